package dev.nuri.kernels.model;

/**
 * @param quantizeQ8_0 re-quantise every linear weight except the router and the output head, and the token embeddings
 *     unless tied to the output head, to Q8_0 at load time
 * @param quantizeLmHead with {@code quantizeQ8_0}, the output head too (and the embeddings tied to it), as llama.cpp's
 *     Q8_0 files have it: the largest matrix a decoded token reads (65 MB of the benchmark model's 310 in BF16,
 *     2.3 GB for A.X K1) in half the bytes, for logits and log-probabilities with Q8_0's error
 */
public record LoadOptions(boolean quantizeQ8_0, boolean quantizeLmHead) {
    public static final LoadOptions DEFAULT = new LoadOptions(false);

    public LoadOptions {
        if (quantizeLmHead && !quantizeQ8_0) throw new IllegalArgumentException("quantizeLmHead needs quantizeQ8_0");
    }

    /** Q8_0 or not, the output head as stored. */
    public LoadOptions(boolean quantizeQ8_0) {
        this(quantizeQ8_0, false);
    }
}
