package dev.nuri.kernels.model;

/**
 * @param quantizeQ8_0 re-quantise every linear weight except the router and the output head, and the token embeddings
 *     unless tied to the output head, to Q8_0 at load time
 */
public record LoadOptions(boolean quantizeQ8_0) {
    public static final LoadOptions DEFAULT = new LoadOptions(false);
}
