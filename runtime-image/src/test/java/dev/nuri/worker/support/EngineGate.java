package dev.nuri.worker.support;

import dev.nuri.worker.engine.Engine;
import dev.nuri.worker.engine.EngineFailure;
import dev.nuri.worker.engine.EngineRejectedException;
import dev.nuri.worker.engine.GenerationListener;
import dev.nuri.worker.engine.GenerationSpec;
import dev.nuri.worker.engine.SamplingParams;
import dev.nuri.worker.engine.SequenceOutput;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Holds the engine thread inside a listener callback (a one-token request whose listener waits), so that a test can
 * line requests up while the engine is busy and then let them all meet the scheduler at once. Open it to let go.
 */
public final class EngineGate implements AutoCloseable {
    private final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    private EngineGate() {}

    /** Returns once the engine thread is held. */
    public static EngineGate close(Engine engine) {
        EngineGate gate = new EngineGate();
        try {
            engine.submit(new GenerationSpec("gate", List.of(new int[] {1}), 1, SamplingParams.greedy(1), System.nanoTime()),
                    new GenerationListener() {
                        @Override
                        public void onOutput(SequenceOutput output) {
                            gate.entered.countDown();
                            try {
                                if (!gate.released.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        }

                        @Override
                        public void onFailure(EngineFailure failure) {
                            gate.entered.countDown();
                        }
                    });
            if (!gate.entered.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("the engine never reached the gate");
        } catch (EngineRejectedException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return gate;
    }

    public void open() {
        released.countDown();
    }

    @Override
    public void close() {
        open();
    }
}
