package dev.nuri.kernels.weights;

/** A checkpoint that cannot be used as it is: missing tensor, wrong shape, truncated file, unknown dtype. */
public final class WeightFormatException extends RuntimeException {
    public WeightFormatException(String message) {
        super(message);
    }

    public WeightFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
