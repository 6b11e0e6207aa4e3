package dev.nuri.worker.engine;

import dev.nuri.kernels.attention.KvBlockPool;
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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Continuous batching on one dedicated thread, over a paged KV cache (vLLM's scheduler, reduced). Each step the engine
 * drops finished and cancelled sequences, admits waiting requests up to the batch limit, then builds one batch of rows:
 * every running sequence's next token (decodes are never held back), then prompt chunks, in admission order, until the
 * step carries {@code maxBatchedTokens} tokens (chunked prefill: a long prompt takes several steps and never stalls the
 * running streams for more than one). Sequences of different requests start in turns, so a request with many prompts
 * shares the engine with the others. All rows go through the model as one pass, so the MoE layers see as many tokens
 * as possible.
 *
 * <p>KV cache: a sequence holds only the blocks its computed tokens need, taken step by step. When none is free, the
 * newest running sequence is preempted (its blocks given back, to be recomputed when blocks free up, ahead of requests
 * that have not started) instead of anyone being rejected. With prefix caching a starting sequence takes the full
 * blocks another request already computed for the same leading tokens (see {@link KvBlockPool}).
 *
 * <p>Accounting: {@link #end} is the one way an admitted request ends; it gives every block of its sequences back
 * exactly once, however and in whatever order its sequences finish, its client goes away or a step fails, and it is
 * the one place that counts the request in {@code request_success_total}.
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
    /** engine thread only (its used-block count may be read anywhere) */
    private final KvBlockPool pool;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** guarded by lock: interactive requests waiting for admission, in arrival order */
    private final ArrayDeque<Generation> waiting = new ArrayDeque<>();
    /** guarded by lock: background (batch) requests, admitted only while {@link #waiting} is empty */
    private final ArrayDeque<Generation> waitingBackground = new ArrayDeque<>();
    /** engine thread only: admitted requests with sequences not started yet, in turn order */
    private final ArrayDeque<Generation> starting = new ArrayDeque<>();
    /** engine thread only: sequences preempted to free blocks, the first to resume first */
    private final ArrayDeque<Sequence> preempted = new ArrayDeque<>();
    /** engine thread only: started sequences (holding blocks), oldest first; the last is the first to be preempted */
    private final List<Sequence> running = new ArrayList<>();
    /** engine thread only: sequences of admitted requests that have not finished (starting, running or preempted) */
    private int activeSequences;
    /** engine thread only: the part of {@link #activeSequences} that is background work */
    private int activeBackground;
    /** engine thread only, set at admission: an interactive request is admitted (not finished) or waiting */
    private boolean interactiveWork;
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
        this.pool = model.newBlockPool(settings.blockSize(), settings.kvCacheBlocks());
        for (int id : model.config().eosTokenIds()) eos.set(id);
        int eosFromTokenizer = tokenizer.specialId(tokenizer.eosToken());
        if (eosFromTokenizer >= 0) eos.set(eosFromTokenizer);
        metrics.gauge(WorkerMetrics.NUM_REQUESTS_RUNNING, "Sequences admitted to the batch (being prefilled or decoded)", () -> runningCount);
        metrics.gauge(WorkerMetrics.NUM_REQUESTS_WAITING, "Requests waiting for admission", this::waitingCount);
        metrics.gauge(WorkerMetrics.KV_CACHE_USAGE_PERC, "Share of the KV-cache blocks held by running sequences (0..1)",
                () -> (double) pool.usedBlocks() / pool.totalBlocks());
        // the cache's blocks are allocated as they are first handed out, all of them sooner or later: the heap grows
        // by this much after start, up to the cache's size (docs/benchmarks.md, the soak)
        metrics.gauge(WorkerMetrics.KV_CACHE_ALLOCATED_BYTES, "Heap taken by the KV-cache blocks allocated so far (each "
                + "the first time it is handed out; at most the cache's size)", () -> (double) pool.allocatedBlocks() * pool.bytesPerBlock());
        thread = Thread.ofPlatform().name("nuri-engine").daemon(true).start(this::loop);
    }

    public int contextLength() {
        return contextLength;
    }

    public EngineSettings settings() {
        return settings;
    }

    /**
     * Queues a request; the listener hears about it on the engine thread. A request whose sequences could not all be
     * held at their longest even with the whole cache to themselves is refused: it could never finish.
     */
    public Generation submit(GenerationSpec spec, GenerationListener listener) throws EngineRejectedException {
        long blocks = 0;
        int bs = settings.blockSize();
        for (int[] prompt : spec.prompts()) {
            blocks += (long) spec.n() * ((Math.min(contextLength, prompt.length + spec.params().maxTokens()) + bs - 1) / bs);
        }
        if (blocks > pool.totalBlocks()) {
            throw new EngineRejectedException(new EngineFailure(EngineFailure.Kind.TOO_LARGE, "this request needs "
                    + blocks * bs + " tokens of KV cache (prompt + max_tokens, times n, in blocks of " + bs
                    + ") but the shard holds " + (long) pool.totalBlocks() * bs + "; lower max_tokens or n"));
        }
        Generation g = new Generation(spec, listener);
        lock.lock();
        try {
            if (!accepting) {
                throw new EngineRejectedException(new EngineFailure(EngineFailure.Kind.UNAVAILABLE, "the server is shutting down"));
            }
            int queued = waiting.size() + waitingBackground.size();
            if (queued >= settings.maxWaiting()) {
                throw new EngineRejectedException(new EngineFailure(EngineFailure.Kind.QUEUE_FULL,
                        "the server is at capacity (" + queued + " requests waiting); retry later"));
            }
            (spec.background() ? waitingBackground : waiting).add(g);
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
            if (waiting.remove(g) || waitingBackground.remove(g)) {
                g.ended = true; // never admitted: holds nothing, no sequences
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
            return waiting.size() + waitingBackground.size();
        } finally {
            lock.unlock();
        }
    }

    /** Sequences of admitted requests that have not finished: starting, being prefilled or decoded, or preempted. */
    public int runningCount() {
        return runningCount;
    }

    /** KV-cache blocks held by running sequences. */
    public int usedKvBlocks() {
        return pool.usedBlocks();
    }

    public boolean accepting() {
        return accepting;
    }

    private void loop() {
        while (!closed) {
            try {
                dropEnded();
                admit();
                Map<Sequence, Integer> batch = schedule();
                if (batch.isEmpty()) {
                    awaitWork();
                    continue;
                }
                run(batch);
            } catch (InterruptedException e) {
                return;
            } catch (ExpertsUnavailableException e) {
                LOG.warning("engine step failed, the requests in it get 503: " + e.getMessage());
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
            if (waiting.isEmpty() && waitingBackground.isEmpty() && !closed) changed.await(100, TimeUnit.MILLISECONDS);
        } finally {
            lock.unlock();
        }
    }

    /** Ends cancelled requests and forgets finished sequences and ended requests. */
    private void dropEnded() {
        for (Sequence s : running) if (s.generation.cancelled) end(s.generation, "abort");
        for (Sequence s : preempted) if (s.generation.cancelled) end(s.generation, "abort");
        for (Generation g : starting) if (g.cancelled) end(g, "abort");
        running.removeIf(s -> s.finished);
        preempted.removeIf(s -> s.finished);
        starting.removeIf(g -> g.ended);
    }

    /**
     * Admits waiting requests in arrival order while their sequences fit the batch limit (a request larger than the
     * batch is admitted alone). Interactive requests count only interactive sequences against the limit: batch
     * sequences never hold the slots an interactive request needs (while one runs they get at most one token a step,
     * and give up their blocks first). Background requests come after every interactive one, only while the whole
     * batch limit has room, and take at most half of it. KV blocks are not reserved here: a sequence takes them as
     * its tokens are computed.
     */
    private void admit() {
        List<Generation> admitted = new ArrayList<>();
        lock.lock();
        try {
            while (!waiting.isEmpty()) {
                Generation g = waiting.peek();
                int choices = g.spec.choices();
                if (activeSequences - activeBackground + choices > Math.max(settings.maxBatch(), choices)) break;
                waiting.poll();
                g.admitted = true;
                activeSequences += choices;
                admitted.add(g);
            }
            int backgroundSlots = Math.max(1, settings.maxBatch() / 2);
            while (waiting.isEmpty() && !waitingBackground.isEmpty()) {
                Generation g = waitingBackground.peek();
                int choices = g.spec.choices();
                if (activeSequences + choices > Math.max(settings.maxBatch(), choices)
                        || activeBackground + choices > Math.max(backgroundSlots, choices)) break;
                waitingBackground.poll();
                g.admitted = true;
                activeSequences += choices;
                activeBackground += choices;
                admitted.add(g);
            }
            interactiveWork = !waiting.isEmpty() || activeSequences > activeBackground;
        } finally {
            lock.unlock();
        }
        runningCount = activeSequences;
        for (Generation g : admitted) {
            g.admittedNanos = System.nanoTime();
            metrics.queueTime(g.spec.background()).record(g.admittedNanos - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
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
            starting.add(g);
        }
    }

    /**
     * This step's rows, as tokens to compute per sequence, in row order: every running sequence's decode first, then
     * prompt chunks of running sequences, then sequences that start (preempted ones first, then new ones in turns),
     * while the token budget lasts. A sequence that cannot get the blocks its rows need preempts the newest running
     * sequences (itself, if it is the newest); nothing starts in a step that preempted.
     *
     * <p>Batch rows yield to interactive work: while an interactive request is admitted or waiting, interactive rows
     * are planned first and batch rows get at most {@link #BACKGROUND_ROWS_BESIDE_INTERACTIVE} token of the step, none
     * in a step that carries interactive prompt tokens (a time-to-first-token step). Each step's length is what the
     * interactive requests' latency pays. With no interactive work a step carries at most
     * {@link EngineSettings#batchStepTokens()} batch tokens: an interactive request that arrives waits for the step in
     * progress, so that step stays short. An interactive sequence that cannot start for want of blocks preempts batch
     * ones and starts in the same step.
     */
    private Map<Sequence, Integer> schedule() {
        StepPlan plan = new StepPlan(settings.maxBatchedTokens());
        if (!interactiveWork) { // every admitted sequence is batch work
            plan(plan, true, settings.batchStepTokens());
            return plan.rows;
        }
        plan(plan, false, Integer.MAX_VALUE);
        boolean interactivePrompt = false;
        for (Sequence s : plan.rows.keySet()) interactivePrompt |= s.cache.length() < s.prompt.length;
        if (!interactivePrompt) plan(plan, true, BACKGROUND_ROWS_BESIDE_INTERACTIVE);
        return plan.rows;
    }

    /** Batch rows in a step while interactive work is admitted or waiting. */
    static final int BACKGROUND_ROWS_BESIDE_INTERACTIVE = 1;

    /** A step's rows as they are planned, and the tokens left to give. */
    private static final class StepPlan {
        final Map<Sequence, Integer> rows = new LinkedHashMap<>();
        int budget;
        boolean preempted;

        StepPlan(int budget) {
            this.budget = budget;
        }
    }

    /**
     * Adds rows of sequences of one kind ({@code background} true or false; null: both) to the plan, at most
     * {@code cap} tokens of them; uncapped, decodes are never held back (the step may run over its budget by them).
     */
    private void plan(StepPlan plan, Boolean background, int cap) {
        boolean capped = cap < Integer.MAX_VALUE;
        int budget = Math.min(plan.budget, cap);
        for (boolean decodes : new boolean[] {true, false}) {
            for (Sequence s : List.copyOf(running)) {
                if (s.finished || !running.contains(s) || plan.rows.containsKey(s) || (s.uncomputed() == 1) != decodes
                        || !ofKind(s, background)) continue;
                int n = decodes ? 1 : Math.min(s.uncomputed(), budget);
                if (n <= 0 || capped && n > budget) break;
                while (!s.cache.tryReserve(s.cache.length() + n)) {
                    Sequence victim = nextVictim();
                    preempt(victim);
                    plan.preempted = true;
                    Integer given = plan.rows.remove(victim);
                    if (given != null) {
                        plan.budget += given;
                        if (ofKind(victim, background)) budget += given;
                    }
                    if (victim == s) break;
                }
                if (!running.contains(s)) continue;
                plan.rows.put(s, n);
                plan.budget -= n;
                budget -= n;
            }
        }
        while (!plan.preempted && budget > 0) {
            Sequence s = nextToStart(background);
            if (s == null) break;
            boolean started = start(s, budget);
            // an interactive sequence takes the blocks of batch ones and starts now, not a step later
            while (!started && Boolean.FALSE.equals(background) && running.stream().anyMatch(r -> r.generation.spec.background())) {
                Sequence victim = nextVictim();
                preempt(victim);
                Integer given = plan.rows.remove(victim);
                if (given != null) plan.budget += given;
                started = start(s, budget);
            }
            if (!started) break;
            int n = s.cache.blocks() * pool.blockSize() - s.cache.length(); // what start reserved room for
            n = Math.min(Math.min(s.uncomputed(), budget), n);
            plan.rows.put(s, n);
            plan.budget -= n;
            budget -= n;
        }
    }

    private static boolean ofKind(Sequence s, Boolean background) {
        return background == null || s.generation.spec.background() == background;
    }

    /** The newest running background sequence, else the newest running one: batch work gives its blocks up first. */
    private Sequence nextVictim() {
        for (int i = running.size() - 1; i >= 0; i--) if (running.get(i).generation.spec.background()) return running.get(i);
        return running.getLast();
    }

    /**
     * The next sequence of the kind ({@code background}; null: any) to start, without taking it: a preempted one, else
     * the next new one in turn.
     */
    private Sequence nextToStart(Boolean background) {
        for (Sequence s : preempted) if (ofKind(s, background)) return s;
        for (var it = starting.iterator(); it.hasNext(); ) {
            Generation g = it.next();
            if (g.ended || g.started >= g.sequences.size()) {
                it.remove();
                continue;
            }
            if (background == null || g.spec.background() == background) return g.sequences.get(g.started);
        }
        return null;
    }

    /**
     * Gives a sequence its cached prefix and the blocks for its first {@code budget} tokens and moves it to running;
     * false (and nothing taken) when the blocks are not free.
     */
    private boolean start(Sequence s, int budget) {
        Generation g = s.generation;
        if (s.cache == null) s.cache = new KvCache(pool, Math.min(contextLength, s.maxLength()));
        boolean scoring = g.spec.params().scoresPrompt();
        // the last token is always computed (its logits are needed); prompt scoring needs every position's logits
        int hit = settings.prefixCaching() && !scoring ? s.cache.attachCachedPrefix(s.tokens, s.tokenCount - 1) : 0;
        int n = Math.min(s.uncomputed(), budget);
        if (running.isEmpty()) {
            // nothing else will give blocks back: start with the chunk that fits (a request fits the cache whole)
            n = Math.min(n, (s.cache.blocks() + pool.freeBlocks()) * pool.blockSize() - s.cache.length());
        }
        if (n <= 0 || !s.cache.tryReserve(s.cache.length() + n)) {
            s.cache.release();
            return false;
        }
        if (settings.prefixCaching() && !scoring) {
            metrics.prefixCacheQueries.increment(s.tokenCount);
            metrics.prefixCacheHits.increment(hit);
        }
        if (!preempted.remove(s)) {
            starting.remove(g);
            g.started++;
            if (!g.ended && g.started < g.sequences.size()) starting.add(g); // the next request's turn
        }
        running.add(s);
        return true;
    }

    /** Frees a running sequence's blocks; it is recomputed from its tokens when it resumes, ahead of new sequences. */
    private void preempt(Sequence s) {
        running.remove(s);
        s.cache.release();
        preempted.addFirst(s);
        metrics.preemptions.increment();
    }

    /** Runs one step: all rows through the model at once, then each sequence takes its logits. */
    private void run(Map<Sequence, Integer> batch) {
        int rows = 0;
        boolean prompts = false;
        for (Map.Entry<Sequence, Integer> e : batch.entrySet()) {
            rows += e.getValue();
            prompts |= e.getKey().cache.length() < e.getKey().prompt.length;
        }
        int[] tokens = new int[rows];
        KvCache[] caches = new KvCache[rows];
        boolean[] logitsFor = new boolean[rows];
        int r = 0;
        for (Map.Entry<Sequence, Integer> e : batch.entrySet()) {
            Sequence s = e.getKey();
            boolean scoring = s.generation.spec.params().scoresPrompt();
            for (int i = 0, p = s.cache.length(); i < e.getValue(); i++, p++, r++) {
                tokens[r] = s.tokens[p];
                caches[r] = s.cache;
                logitsFor[r] = p == s.tokenCount - 1 || (scoring && p < s.prompt.length - 1);
            }
        }
        long start = System.nanoTime();
        float[][] logits;
        RoutedExperts step = experts.forStep(); // one placement for every MoE layer of the step
        try {
            logits = model.forward(tokens, caches, logitsFor, step);
        } finally {
            step.endStep();
        }
        (prompts ? metrics.prefill : metrics.decodeStep).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        metrics.batchSize.record(batch.size());
        if (step.overlaps(rows)) metrics.twoBatchOverlapSteps.increment();
        r = 0;
        for (Map.Entry<Sequence, Integer> e : batch.entrySet()) {
            Sequence s = e.getKey();
            int n = e.getValue();
            int first = s.cache.length() - n;
            if (settings.prefixCaching()) s.cache.publishFullBlocks(s.tokens);
            if (s.generation.spec.params().scoresPrompt()) scorePrompt(s, logits, r, first, n);
            r += n;
            if (s.finished || s.uncomputed() > 0) continue;
            if (s.generated == 0) metrics.promptTokens.increment(s.prompt.length);
            if (s.maxTokens == 0) scoredOnly(s);
            else accept(s, logits[r - 1]);
        }
        running.removeIf(s -> s.finished);
    }

    /** Scores each prompt token under the logits of the position before it, once (a recomputed chunk adds nothing). */
    private static void scorePrompt(Sequence s, float[][] logits, int row, int first, int n) {
        int top = s.generation.spec.params().promptLogprobs();
        if (s.promptLogprobs.isEmpty()) s.promptLogprobs = new ArrayList<>(s.prompt.length - 1);
        for (int i = 0, p = first; i < n; i++, p++) {
            if (p < s.prompt.length - 1 && p == s.promptLogprobs.size()) {
                s.promptLogprobs.add(TokenSampler.logprobs(logits[row + i], s.prompt[p + 1], top));
            }
        }
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
                metrics.timeToFirstToken(g.spec.background()).record(now - g.spec.arrivalNanos(), TimeUnit.NANOSECONDS);
            }
        } else {
            metrics.interTokenLatency.record(now - s.lastTokenNanos, TimeUnit.NANOSECONDS);
        }
        s.lastTokenNanos = now;
        s.generated++;
        s.append(token);
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
        if (s.cache != null) s.cache.release();
        activeSequences--;
        if (g.spec.background()) activeBackground--;
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
     * The one way an admitted request ends: finishes its sequences, gives their KV blocks back and counts it under
     * {@code reason}. Only the first call does anything, so a request that both finished and was cancelled (or failed)
     * is released and counted once.
     */
    private void end(Generation g, String reason) {
        if (g.ended) return;
        g.ended = true;
        for (Sequence s : g.sequences) {
            if (s.finished) continue;
            s.finished = true;
            if (s.cache != null) s.cache.release();
            activeSequences--;
            if (g.spec.background()) activeBackground--;
        }
        g.unfinished = 0;
        runningCount = activeSequences; // published before the request is counted: a finished request is never "running"
        lock.lock();
        try {
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

    /** A step failed: every request with a started sequence fails. */
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
            accepting = false;
            for (var queue : List.of(waiting, waitingBackground)) {
                for (Generation g : queue) g.listener.onFailure(new EngineFailure(EngineFailure.Kind.UNAVAILABLE, "the server is shutting down"));
                queue.clear();
            }
        } finally {
            lock.unlock();
        }
    }
}
