package dev.nuri.worker.moe;

import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.placement.ExpertPlacement;
import dev.nuri.worker.transport.DispatchFrame;
import dev.nuri.worker.transport.PeerLink;
import dev.nuri.worker.transport.PeerUnavailableException;
import dev.nuri.worker.transport.WireDType;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Expert parallelism as the model sees it: a {@link RoutedExperts} that, for each MoE layer, sends each token's hidden
 * vector once to every peer shard owning one of its chosen experts (dispatch), computes the experts this shard holds
 * while the peers work, and adds the peers' weighted partial sums into the output (combine). With one shard it
 * computes everything locally.
 */
public final class ExpertDispatcher implements RoutedExperts {
    private final int selfShard;
    private final Supplier<ExpertPlacement> placement;
    private final ExpertHost host;
    private final PeerLink[] links;
    private final WireDType dtype;
    private final Duration timeout;
    private final WorkerMetrics metrics;
    private final MoeLoad load;

    public ExpertDispatcher(int selfShard, Supplier<ExpertPlacement> placement, ExpertHost host, PeerLink[] links,
                            WireDType dtype, Duration timeout, WorkerMetrics metrics, MoeLoad load) {
        this.selfShard = selfShard;
        this.placement = placement;
        this.host = host;
        this.links = links;
        this.dtype = dtype;
        this.timeout = timeout;
        this.metrics = metrics;
        this.load = load;
    }

    @Override
    public void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
        long start = System.nanoTime();
        int h = hidden.length / tokens;
        int[][] owners = placement.get().owners(layer);
        int shards = links.length;
        int slots = tokens * k;
        int[] shardOfSlot = new int[slots];
        int[][] counts = new int[shards][tokens];
        int[] slotsPerShard = new int[shards];
        int[] tokensPerShard = new int[shards];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < k; j++) {
                int[] replicas = owners[experts[t * k + j]];
                // Spread tokens over redundant copies by position, as vLLM does.
                int s = replicas.length == 1 ? replicas[0] : replicas[t % replicas.length];
                shardOfSlot[t * k + j] = s;
                if (counts[s][t]++ == 0) tokensPerShard[s]++;
                slotsPerShard[s]++;
            }
        }
        load.record(layer, experts, shardOfSlot);

        @SuppressWarnings("unchecked")
        CompletableFuture<DispatchFrame>[] calls = new CompletableFuture[shards];
        int[][] rows = new int[shards][];
        for (int s = 0; s < shards; s++) {
            if (s == selfShard || tokensPerShard[s] == 0) continue;
            if (links[s] == null || !links[s].connected()) {
                throw new PeerUnavailableException("peer shard " + s + " is not connected"
                        + (links[s] == null ? "" : " (" + links[s].address() + ": " + links[s].lastError() + ")"));
            }
        }
        for (int s = 0; s < shards; s++) {
            if (s == selfShard || tokensPerShard[s] == 0) continue;
            rows[s] = new int[tokensPerShard[s]];
            Subset sub = subset(s, tokens, k, h, hidden, experts, weights, shardOfSlot, counts[s], rows[s], slotsPerShard[s]);
            int layerIndex = layer;
            calls[s] = links[s].call(callId -> DispatchFrame.dispatch(dtype, layerIndex, callId, sub.tokens, h,
                    sub.counts, sub.experts, sub.weights, sub.hidden));
        }
        long dispatched = System.nanoTime();
        if (shards > 1) metrics.dispatch.record(dispatched - start, TimeUnit.NANOSECONDS);

        if (tokensPerShard[selfShard] > 0) {
            int[] localRows = new int[tokensPerShard[selfShard]];
            Subset sub = subset(selfShard, tokens, k, h, hidden, experts, weights, shardOfSlot, counts[selfShard], localRows, slotsPerShard[selfShard]);
            long computeStart = System.nanoTime();
            float[] partial = host.compute(layer, sub.tokens, h, sub.counts, sub.experts, sub.weights, sub.hidden);
            metrics.expertCompute.record(System.nanoTime() - computeStart, TimeUnit.NANOSECONDS);
            addRows(partial, localRows, h, out);
        }

        if (shards == 1) return;
        long combineStart = System.nanoTime();
        for (int s = 0; s < shards; s++) {
            if (calls[s] == null) continue;
            DispatchFrame answer = await(calls[s], s);
            addRows(answer.vectors(), rows[s], h, out);
        }
        metrics.combine.record(System.nanoTime() - combineStart, TimeUnit.NANOSECONDS);
    }

    private DispatchFrame await(CompletableFuture<DispatchFrame> call, int shard) {
        try {
            return call.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new PeerUnavailableException("peer shard " + shard + " failed: " + e.getCause());
        } catch (TimeoutException e) {
            throw new PeerUnavailableException("peer shard " + shard + " did not answer within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerUnavailableException("interrupted while waiting for peer shard " + shard);
        }
    }

    private record Subset(int tokens, int[] counts, int[] experts, float[] weights, float[] hidden) {}

    private static Subset subset(int shard, int tokens, int k, int h, float[] hidden, int[] experts, float[] weights,
                                 int[] shardOfSlot, int[] countPerToken, int[] rows, int slotCount) {
        int n = rows.length;
        int[] counts = new int[n];
        int[] ids = new int[slotCount];
        float[] w = new float[slotCount];
        float[] x = new float[n * h];
        int r = 0, p = 0;
        for (int t = 0; t < tokens; t++) {
            if (countPerToken[t] == 0) continue;
            rows[r] = t;
            counts[r] = countPerToken[t];
            System.arraycopy(hidden, t * h, x, r * h, h);
            for (int j = 0; j < k; j++) {
                int slot = t * k + j;
                if (shardOfSlot[slot] != shard) continue;
                ids[p] = experts[slot];
                w[p] = weights[slot];
                p++;
            }
            r++;
        }
        return new Subset(n, counts, ids, w, x);
    }

    private static void addRows(float[] partial, int[] rows, int h, float[] out) {
        for (int r = 0; r < rows.length; r++) {
            int o = rows[r] * h;
            int i = r * h;
            for (int d = 0; d < h; d++) out[o + d] += partial[i + d];
        }
    }
}
