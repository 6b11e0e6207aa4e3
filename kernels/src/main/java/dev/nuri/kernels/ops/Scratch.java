package dev.nuri.kernels.ops;

/**
 * Per-thread float buffers for a step's intermediates (a layer's projections, the router's scores, an expert's
 * gathered rows, the logits before they are copied out), reused from step to step instead of allocated: at 64
 * concurrent sequences these were about 50 MB of garbage a second per core, which the collector turned into
 * resident heap. One buffer per {@link Slot} and thread, so two intermediates alive at once on one thread use
 * different slots; a buffer holds whatever its last user left (callers write what they read) and may be longer
 * than asked. A request above its slot's {@link Slot#maxKept} (a long prefill chunk, where an allocation is small
 * beside the work) gets a fresh array that is not kept, so what a thread keeps stays bounded.
 */
public final class Scratch {
    /** What a buffer is for; the nesting (an expert's rows, then its gate and up products) decides the split. */
    public enum Slot {
        /** lm_head's rows, on the engine thread only: 64 rows of a 32,000-token vocabulary, 4 of A.X K1's 163,840. */
        LOGITS(1 << 21),
        ATTN_Q, ATTN_K, ATTN_V, ATTN_OUT, ATTN_Q_LORA, ROUTER, EXPERT_OUTPUTS, EXPERT_IN, EXPERT_OUT, GATE, UP;

        /** Floats kept at most: 4 MiB by default, what a 64-sequence decode step of the benchmark model needs. */
        final int maxKept;

        Slot() {
            this(1 << 20);
        }

        Slot(int maxKept) {
            this.maxKept = maxKept;
        }
    }

    private static final int SLOTS = Slot.values().length;
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[SLOTS][0]);

    private Scratch() {
    }

    /** The most floats a thread keeps for this slot: a caller that can work in parts sizes them by it. */
    public static int keptFloats(Slot slot) {
        return slot.maxKept;
    }

    /** A buffer of at least {@code size} floats for this thread's use of {@code slot}; its contents are undefined. */
    public static float[] floats(Slot slot, int size) {
        if (size > slot.maxKept) return new float[size];
        float[][] kept = BUFFERS.get();
        float[] f = kept[slot.ordinal()];
        // grows by at least half: a batch that grows a row at a time does not reallocate on every step
        if (f.length < size) kept[slot.ordinal()] = f = new float[Math.min(slot.maxKept, Math.max(size, f.length + f.length / 2))];
        return f;
    }
}
