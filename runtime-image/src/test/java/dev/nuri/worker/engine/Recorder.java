package dev.nuri.worker.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A listener that stamps every output with a tick of one clock shared by all recorders of a test, so that tests can
 * compare the order of events across requests without comparing wall-clock times.
 */
class Recorder implements GenerationListener {
    record Event(long tick, SequenceOutput output) {}

    private final AtomicLong clock;
    final List<Event> events = new ArrayList<>();
    volatile EngineFailure failure;

    Recorder(AtomicLong clock) {
        this.clock = clock;
    }

    @Override
    public synchronized void onOutput(SequenceOutput output) {
        events.add(new Event(clock.incrementAndGet(), output));
    }

    @Override
    public void onFailure(EngineFailure failure) {
        this.failure = failure;
    }

    synchronized int outputs() {
        return events.size();
    }

    synchronized long finishedChoices() {
        return events.stream().filter(e -> e.output().finished()).count();
    }

    /** Tick of each choice's first token, by choice index; 0 where the choice has none yet. */
    synchronized long[] firstTokenTicks(int choices) {
        long[] ticks = new long[choices];
        for (Event e : events) if (ticks[e.output().choice()] == 0) ticks[e.output().choice()] = e.tick();
        return ticks;
    }

    /** The token ids choice {@code choice} generated, in order. */
    synchronized List<Integer> tokens(int choice) {
        List<Integer> ids = new ArrayList<>();
        for (Event e : events) if (e.output().choice() == choice) for (int t : e.output().tokens()) ids.add(t);
        return ids;
    }

    /** Outputs stamped strictly between two ticks. */
    synchronized long outputsBetween(long after, long before) {
        return events.stream().filter(e -> e.tick() > after && e.tick() < before).count();
    }

    synchronized long firstTick() {
        return events.isEmpty() ? Long.MAX_VALUE : events.getFirst().tick();
    }

    synchronized long lastTick() {
        return events.isEmpty() ? 0 : events.getLast().tick();
    }
}
