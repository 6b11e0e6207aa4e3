package dev.nuri.worker.engine;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.worker.engine.Generation.Sequence;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import dev.nuri.worker.moe.ExpertsUnavailableException;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Continuous batching on one dedicated thread. Each step the engine drops finished and cancelled sequences, admits
 * waiting requests that fit the KV-cache budget and the batch, prefills admitted sequences one at a time (taking turns
 * between requests, up to the per-step prefill budget), then runs one decode step over every prefilled sequence as one
 * batch, so the MoE layers see as many tokens as possible.
 *
 * <p>Accounting: a request reserves its KV tokens when admitted and {@link #end} gives them back exactly once, however
 * and in whatever order its sequences finish, its client goes away or a step fails; {@code end} is also the one place
 * that counts the request in {@code request_success_total}.
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
    /** guarded by lock */
    private final ArrayDeque<Generation> waiting = new ArrayDeque<>();
    /** guarded by lock (written there, read anywhere) */
    private volatile int reservedTokens;
    /** engine thread only: admitted requests with sequences still to prefill, in turn order */
    private final ArrayDeque<Generation> prefilling = new ArrayDeque<>();
    /** engine thread only: prefilled sequences, decoded every step */
    private final List<Sequence> running = new ArrayList<>();
    /** engine thread only: sequences of admitted requests that have not finished (prefilling or running) */
    private int activeSequences;
    /** {@link #activeSequences} published for gauges and drain */
    private volatile int runningCount;
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
        metrics.gauge(WorkerMetrics.NUM_REQUESTS_RUNNING, "Sequences admitted to the batch (being prefilled or decoded)", () -> runningCount);
        metrics.gauge(WorkerMetrics.NUM_REQUESTS_WAITING, "Requests waiting for admission", this::waitingCount);
        metrics.gauge(WorkerMetrics.KV_CACHE_USAGE_PERC, "Share of the KV-cache token budget reserved by admitted sequences (0..1)",
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

    /**
     * The client went away. A request still waiting leaves the queue at once (its place is free for the next one); an
     * admitted one stops before the engine's next step. Cancelling a request that has ended does nothing.
     */
    public void cancel(Generation g) {
        g.cancel();
        lock.lock();
        try {
            if (waiting.remove(g)) {
                g.ended = true; // never admitted: nothing reserved, no sequences
                metrics.requestFinished("abort");
            }
            changed.signalAll();
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

    /** Sequences of admitted requests that have not finished: being prefilled or decoded. */
    public int runningCount() {
        return runningCount;
    }

    /** KV-cache tokens reserved by admitted requests. */
    public int reservedKvTokens() {
        return reservedTokens;
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
                dropEnded();
                admit();
                if (prefilling.isEmpty() && running.isEmpty()) {
                    awaitWork();
                    continue;
                }
                prefillStep();
                decodeStep();
            } catch (InterruptedException e) {
                return;
            } catch (ExpertsUnavailableException e) {
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

    /** Ends cancelled requests and forgets finished sequences and ended requests. */
    private void dropEnded() {
        for (Sequence s : running) if (s.generation.cancelled) end(s.generation, "abort");
        for (Generation g : prefilling) if (g.cancelled) end(g, "abort");
        running.removeIf(s -> s.finished);
        prefilling.removeIf(g -> g.ended);
    }

    /**
     * Admits waiting requests in arrival order while the next one fits both the KV-cache budget (what admitted requests
     * have reserved, plus its own reservation) and the batch. A request larger than the batch is admitted alone.
     */
    private void admit() {
        List<Generation> admitted = new ArrayList<>();
        lock.lock();
        try {
            while (!waiting.isEmpty()) {
                Generation g = waiting.peek();
                int choices = g.spec.choices();
                boolean fits = reservedTokens + g.reservedTokens <= settings.kvCacheTokens()
                        && activeSequences + choices <= Math.max(settings.maxBatch(), choices);
                if (!fits) break;
                waiting.poll();
                reservedTokens += g.reservedTokens;
                g.admitted = true;
                activeSequences += choices;
                admitted.add(g);
            }
        } finally {
            lock.unlock();
        }
        runningCount = activeSequences;
        for (Generation g : admitted) {
            g.admittedNanos = System.nanoTime();
            metrics.queueTime.record(g.admittedNanos - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
            SamplingParams p = g.spec.params();
            int choice = 0;
            for (int[] prompt : g.spec.prompts()) {
                for (int i = 0; i < g.spec.n(); i++, choice++) {
                    SplittableRandom random = p.seed() == null ? new SplittableRandom() : new SplittableRandom(p.seed() + choice);
                    int maxTokens = Math.min(p.maxTokens(), contextLength - prompt.length);
                    g.sequences.add(new Sequence(g, choice, prompt, random, new TextOutput(tokenizer, p), maxTokens));
                }
            }
            g.unfinished = g.sequences.size();
            prefilling.add(g);
        }
    }

    /**
     * Prefills admitted sequences, one at a time and one request after another in turn, until this step's prompt-token
     * budget is spent (at least one sequence per step, so a long prompt is never starved). A request with many prompts
     * thus shares the engine with the others instead of holding it for its whole prefill.
     */
    private void prefillStep() {
        int tokens = 0;
        while (!prefilling.isEmpty() && (tokens == 0 || tokens < settings.prefillTokensPerStep())) {
            Generation g = prefilling.poll();
            if (g.ended) continue;
            if (g.cancelled) {
                end(g, "abort");
                continue;
            }
            Sequence s = g.sequences.get(g.prefilled++);
            tokens += prefill(s);
            if (!g.ended && g.prefilled < g.sequences.size()) prefilling.add(g);
        }
    }

    private int prefill(Sequence s) {
        Generation g = s.generation;
        try {
            s.cache = model.newCache(Math.min(contextLength, s.prompt.length + s.maxTokens));
            long start = System.nanoTime();
            float[] logits = g.spec.params().promptLogprobs() ? scorePrompt(s) : model.prefill(s.prompt, s.cache, experts);
            metrics.prefill.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
            metrics.promptTokens.increment(s.prompt.length);
            running.add(s);
            if (s.maxTokens == 0) scoredOnly(s);
            else accept(s, logits);
            return s.prompt.length;
        } catch (RuntimeException e) {
            LOG.log(e instanceof ExpertsUnavailableException ? Level.WARNING : Level.SEVERE, "prefill failed: " + e.getMessage(),
                    e instanceof ExpertsUnavailableException ? null : e);
            fail(g, e);
            return 0;
        }
    }

    /** Rows of logits per prompt chunk: bounds the memory of scoring a long prompt to this many vocabulary rows. */
    private static final int SCORE_CHUNK = 32;

    /**
     * Prefills like {@link CausalLm#prefill} but keeps every position's logits (a chunk at a time) to score each
     * prompt token under the model; returns the last position's logits.
     */
    private float[] scorePrompt(Sequence s) {
        int[] prompt = s.prompt;
        int top = Math.max(0, s.generation.spec.params().logprobs());
        List<TokenLogprob> scored = new ArrayList<>(prompt.length - 1);
        float[] last = null;
        for (int from = 0; from < prompt.length; from += SCORE_CHUNK) {
            int[] chunk = java.util.Arrays.copyOfRange(prompt, from, Math.min(prompt.length, from + SCORE_CHUNK));
            KvCache[] same = new KvCache[chunk.length];
            java.util.Arrays.fill(same, s.cache); // one cache listed per token: consecutive positions, as a prefill
            float[][] logits = model.decode(chunk, same, experts);
            for (int i = 0; i < chunk.length; i++) {
                if (last != null) scored.add(TokenSampler.logprobs(last, chunk[i], top));
                last = logits[i];
            }
        }
        s.promptLogprobs = scored;
        return last;
    }

    /** max_tokens 0: the prompt was only to be scored; the choice ends with nothing generated. */
    private void scoredOnly(Sequence s) {
        Generation g = s.generation;
        try {
            g.listener.onOutput(new SequenceOutput(s.choice, "", new int[0], List.of(), "length", s.prompt.length, 0, s.promptLogprobs));
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "listener of request " + g.requestId() + " failed", e);
            fail(g, e);
            return;
        }
        sequenceFinished(s, "length");
    }

    private void decodeStep() {
        running.removeIf(s -> s.finished);
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
        try {
            List<TokenLogprob> promptLogprobs = s.generated == 1 ? s.promptLogprobs : List.of();
            g.listener.onOutput(new SequenceOutput(s.choice, step.text(), new int[] {token}, lp, reason, s.prompt.length, s.generated,
                    promptLogprobs));
        } catch (RuntimeException e) { // one broken listener fails its own request, not the batch
            LOG.log(Level.SEVERE, "listener of request " + g.requestId() + " failed", e);
            fail(g, e);
            return;
        }
        if (reason != null) sequenceFinished(s, reason);
    }

    private static boolean contains(int[] ids, int token) {
        for (int id : ids) if (id == token) return true;
        return false;
    }

    private void sequenceFinished(Sequence s, String reason) {
        Generation g = s.generation;
        if (s.finished) return;
        s.finished = true;
        s.cache = null;
        activeSequences--;
        runningCount = activeSequences;
        if (--g.unfinished > 0) return;
        metrics.e2eLatency.record(System.nanoTime() - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
        int prompt = 0, generated = 0;
        for (Sequence q : g.sequences) {
            prompt += q.prompt.length;
            generated += q.generated;
        }
        metrics.requestPromptTokens.record(prompt);
        metrics.requestGenerationTokens.record(generated);
        end(g, reason);
    }

    /**
     * The one way an admitted request ends: finishes its sequences, gives its KV reservation back and counts it under
     * {@code reason}. Only the first call does anything, so a request that both finished and was cancelled (or failed)
     * is released and counted once.
     */
    private void end(Generation g, String reason) {
        if (g.ended) return;
        g.ended = true;
        for (Sequence s : g.sequences) {
            if (s.finished) continue;
            s.finished = true;
            s.cache = null;
            activeSequences--;
        }
        g.unfinished = 0;
        runningCount = activeSequences; // published before the request is counted: a finished request is never "running"
        lock.lock();
        try {
            if (g.admitted) reservedTokens -= g.reservedTokens;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        metrics.requestFinished(reason);
    }

    private void fail(Generation g, Throwable e) {
        if (g.ended) return;
        end(g, "error");
        EngineFailure.Kind kind = e instanceof ExpertsUnavailableException ? EngineFailure.Kind.UNAVAILABLE : EngineFailure.Kind.INTERNAL;
        String message = e instanceof ExpertsUnavailableException
                ? "expert-parallel group lost a shard: " + e.getMessage() + "; retry shortly"
                : "internal error while generating: " + e;
        try {
            g.listener.onFailure(new EngineFailure(kind, message));
        } catch (RuntimeException listenerFailure) {
            LOG.log(Level.SEVERE, "listener of request " + g.requestId() + " failed", listenerFailure);
        }
    }

    /** A decode step failed: every request with a sequence in it fails. */
    private void failRunning(Throwable e) {
        List<Generation> gens = new ArrayList<>();
        for (Sequence s : running) if (!gens.contains(s.generation)) gens.add(s.generation);
        for (Generation g : gens) fail(g, e);
        running.clear();
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
