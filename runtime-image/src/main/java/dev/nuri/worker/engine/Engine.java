package dev.nuri.worker.engine;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.worker.engine.Generation.Sequence;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import dev.nuri.worker.transport.PeerUnavailableException;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Continuous batching on one dedicated thread. Between two decode steps the engine drops finished and cancelled
 * sequences and prefills waiting requests that fit the KV-cache budget; then one decode step runs every active
 * sequence as one batch, so the MoE layers see as many tokens as possible.
 */
public final class Engine implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Engine.class.getName());

    private final CausalLm model;
    private final RoutedExperts experts;
    private final ModelTokenizer tokenizer;
    private final EngineSettings settings;
    private final WorkerMetrics metrics;
    private final BitSet eos = new BitSet();
    private final int contextLength;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Generation> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private volatile int runningCount;
    private volatile int reservedTokens;
    private volatile boolean accepting = true;
    private volatile boolean closed;
    private final Thread thread;

    public Engine(CausalLm model, RoutedExperts experts, ModelTokenizer tokenizer, EngineSettings settings, WorkerMetrics metrics) {
        this.model = model;
        this.experts = experts;
        this.tokenizer = tokenizer;
        this.settings = settings;
        this.metrics = metrics;
        int max = model.config().maxPositionEmbeddings();
        if (settings.contextLength() < 1 || settings.contextLength() > max) {
            throw new IllegalArgumentException("context length " + settings.contextLength() + " is outside 1.." + max
                    + " (the model's max_position_embeddings)");
        }
        this.contextLength = settings.contextLength();
        for (int id : model.config().eosTokenIds()) eos.set(id);
        int eosFromTokenizer = tokenizer.specialId(tokenizer.eosToken());
        if (eosFromTokenizer >= 0) eos.set(eosFromTokenizer);
        metrics.gauge("nuri.num_requests_running", "Sequences in the decode batch", () -> runningCount);
        metrics.gauge("nuri.num_requests_waiting", "Requests waiting for admission", this::waitingCount);
        metrics.gauge("nuri.kv_cache_usage_perc", "Share of the KV-cache token budget reserved by admitted sequences",
                () -> (double) reservedTokens / settings.kvCacheTokens());
        thread = Thread.ofPlatform().name("nuri-engine").daemon(true).start(this::loop);
    }

    public int contextLength() {
        return contextLength;
    }

    public EngineSettings settings() {
        return settings;
    }

    /** Queues a request; the listener hears about it on the engine thread. */
    public Generation submit(GenerationSpec spec, GenerationListener listener) throws EngineRejectedException {
        int reserve = 0;
        for (int[] prompt : spec.prompts()) reserve += spec.n() * Math.min(contextLength, prompt.length + spec.params().maxTokens());
        if (reserve > settings.kvCacheTokens()) {
            throw new EngineRejectedException(new EngineFailure(EngineFailure.Kind.TOO_LARGE, "this request needs "
                    + reserve + " tokens of KV cache (prompt + max_tokens, times n) but the shard holds " + settings.kvCacheTokens()
                    + "; lower max_tokens or n"));
        }
        Generation g = new Generation(spec, listener, reserve);
        lock.lock();
        try {
            if (!accepting) {
                throw new EngineRejectedException(new EngineFailure(EngineFailure.Kind.UNAVAILABLE, "the server is shutting down"));
            }
            if (waiting.size() >= settings.maxWaiting()) {
                throw new EngineRejectedException(new EngineFailure(EngineFailure.Kind.QUEUE_FULL,
                        "the server is at capacity (" + waiting.size() + " requests waiting); retry later"));
            }
            waiting.add(g);
            changed.signal();
        } finally {
            lock.unlock();
        }
        return g;
    }

    /** Wakes the engine so that a cancellation takes effect even while it is idle-waiting. */
    public void cancel(Generation g) {
        g.cancel();
        lock.lock();
        try {
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    public int waitingCount() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    public int runningCount() {
        return runningCount;
    }

    /** Stops admitting new requests and waits up to {@code grace} for admitted and waiting ones to finish. */
    public boolean drain(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        lock.lock();
        try {
            accepting = false;
            while (!(waiting.isEmpty() && runningCount == 0)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                changed.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    public boolean accepting() {
        return accepting;
    }

    private void loop() {
        while (!closed) {
            try {
                admit();
                if (running.isEmpty()) {
                    awaitWork();
                    continue;
                }
                decodeStep();
            } catch (InterruptedException e) {
                return;
            } catch (PeerUnavailableException e) {
                LOG.warning("decode step failed, the requests in it get 503: " + e.getMessage());
                failRunning(e);
            } catch (RuntimeException | Error e) {
                LOG.log(Level.SEVERE, "engine step failed", e);
                failRunning(e);
            }
        }
    }

    private void awaitWork() throws InterruptedException {
        lock.lock();
        try {
            if (waiting.isEmpty() && !closed) changed.await(100, TimeUnit.MILLISECONDS);
        } finally {
            lock.unlock();
        }
    }

    /** Prefills waiting requests that fit; at least one per call so that a long prompt is never starved. */
    private void admit() {
        int prefilled = 0;
        while (true) {
            Generation g;
            lock.lock();
            try {
                g = waiting.peek();
                if (g == null) return;
                if (g.cancelled) {
                    waiting.poll();
                    changed.signalAll();
                    continue;
                }
                boolean fits = reservedTokens + g.reservedTokens <= settings.kvCacheTokens()
                        && runningCount + g.spec.choices() <= Math.max(settings.maxBatch(), g.spec.choices());
                if (!fits || (prefilled > 0 && prefilled >= settings.prefillTokensPerStep())) return;
                waiting.poll();
                reservedTokens += g.reservedTokens;
            } finally {
                lock.unlock();
            }
            prefilled += prefill(g);
        }
    }

    private int prefill(Generation g) {
        g.admittedNanos = System.nanoTime();
        metrics.queueTime.record(g.admittedNanos - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
        SamplingParams p = g.spec.params();
        int tokens = 0;
        int choice = 0;
        for (int[] prompt : g.spec.prompts()) {
            for (int i = 0; i < g.spec.n(); i++, choice++) {
                SplittableRandom random = p.seed() == null ? new SplittableRandom() : new SplittableRandom(p.seed() + choice);
                int maxTokens = Math.min(p.maxTokens(), contextLength - prompt.length);
                g.sequences.add(new Sequence(g, choice, prompt, random, new TextOutput(tokenizer, p), maxTokens));
            }
        }
        g.unfinished = g.sequences.size();
        try {
            for (Sequence s : g.sequences) {
                if (g.cancelled) break;
                s.cache = model.newCache(Math.min(contextLength, s.prompt.length + s.maxTokens));
                long start = System.nanoTime();
                float[] logits = model.prefill(s.prompt, s.cache, experts);
                metrics.prefill.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                tokens += s.prompt.length;
                metrics.promptTokens.increment(s.prompt.length);
                running.add(s);
                runningCount = running.size();
                accept(s, logits);
            }
        } catch (RuntimeException e) {
            LOG.log(e instanceof PeerUnavailableException ? Level.WARNING : Level.SEVERE, "prefill failed: " + e.getMessage(),
                    e instanceof PeerUnavailableException ? null : e);
            fail(g, e);
        }
        if (g.cancelled) finishCancelled(g);
        return tokens;
    }

    private void decodeStep() {
        running.removeIf(s -> {
            if (s.generation.cancelled && !s.generation.failed) finishCancelled(s.generation);
            return s.finished;
        });
        runningCount = running.size();
        if (running.isEmpty()) return;
        int b = running.size();
        int[] tokens = new int[b];
        KvCache[] caches = new KvCache[b];
        for (int i = 0; i < b; i++) {
            tokens[i] = running.get(i).lastToken;
            caches[i] = running.get(i).cache;
        }
        long start = System.nanoTime();
        float[][] logits = model.decode(tokens, caches, experts);
        metrics.decodeStep.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        metrics.batchSize.record(b);
        for (int i = 0; i < b; i++) {
            Sequence s = running.get(i);
            if (!s.finished) accept(s, logits[i]);
        }
        running.removeIf(s -> s.finished);
        runningCount = running.size();
    }

    /** Samples a sequence's next token from its logits and tells the listener. */
    private void accept(Sequence s, float[] logits) {
        Generation g = s.generation;
        SamplingParams p = g.spec.params();
        int token = s.sampler.sample(logits, s.random);
        List<TokenLogprob> lp = p.wantsLogprobs() ? List.of(TokenSampler.logprobs(logits, token, p.logprobs())) : List.of();
        long now = System.nanoTime();
        if (s.generated == 0) {
            if (g.firstTokenNanos == 0) {
                g.firstTokenNanos = now;
                metrics.timeToFirstToken.record(now - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
            }
        } else {
            metrics.interTokenLatency.record(now - s.lastTokenNanos, TimeUnit.NANOSECONDS);
        }
        s.lastTokenNanos = now;
        s.generated++;
        s.lastToken = token;
        metrics.generationTokens.increment();

        boolean isEos = !p.ignoreEos() && eos.get(token);
        boolean isStopToken = contains(p.stopTokenIds(), token);
        boolean atLength = s.generated >= s.maxTokens;
        boolean last = isEos || isStopToken || atLength;
        TextOutput.Step step = s.text.add(token, last);
        String reason = null;
        if (step.stopped() || isEos || isStopToken) reason = "stop";
        else if (atLength) reason = "length";
        if (reason != null) s.finished = true;
        g.listener.onOutput(new SequenceOutput(s.choice, step.text(), new int[] {token}, lp, reason, s.prompt.length, s.generated));
        if (reason != null) sequenceFinished(s, reason);
    }

    private static boolean contains(int[] ids, int token) {
        for (int id : ids) if (id == token) return true;
        return false;
    }

    private void sequenceFinished(Sequence s, String reason) {
        Generation g = s.generation;
        g.lastFinishReason = reason;
        s.cache = null;
        if (--g.unfinished > 0) return;
        release(g);
        metrics.e2eLatency.record(System.nanoTime() - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
        int prompt = 0, generated = 0;
        for (Sequence q : g.sequences) {
            prompt += q.prompt.length;
            generated += q.generated;
        }
        metrics.requestPromptTokens.record(prompt);
        metrics.requestGenerationTokens.record(generated);
        metrics.requestFinished(reason);
    }

    private void finishCancelled(Generation g) {
        if (g.failed) return;
        g.failed = true;
        for (Sequence s : g.sequences) {
            s.finished = true;
            s.cache = null;
        }
        release(g);
        metrics.requestFinished("abort");
    }

    private void fail(Generation g, Throwable e) {
        if (g.failed) return;
        g.failed = true;
        for (Sequence s : g.sequences) {
            s.finished = true;
            s.cache = null;
        }
        release(g);
        metrics.requestFinished("error");
        EngineFailure.Kind kind = e instanceof PeerUnavailableException ? EngineFailure.Kind.UNAVAILABLE : EngineFailure.Kind.INTERNAL;
        String message = e instanceof PeerUnavailableException
                ? "expert-parallel group lost a shard: " + e.getMessage() + "; retry shortly"
                : "internal error while generating: " + e;
        g.listener.onFailure(new EngineFailure(kind, message));
    }

    private void failRunning(Throwable e) {
        List<Generation> gens = new ArrayList<>();
        for (Sequence s : running) if (!gens.contains(s.generation)) gens.add(s.generation);
        for (Generation g : gens) fail(g, e);
        running.clear();
        runningCount = 0;
    }

    private void release(Generation g) {
        lock.lock();
        try {
            reservedTokens -= g.reservedTokens;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        lock.lock();
        try {
            for (Generation g : waiting) g.listener.onFailure(new EngineFailure(EngineFailure.Kind.UNAVAILABLE, "the server is shutting down"));
            waiting.clear();
        } finally {
            lock.unlock();
        }
    }
}
