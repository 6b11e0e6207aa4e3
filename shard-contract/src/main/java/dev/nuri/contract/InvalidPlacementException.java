package dev.nuri.contract;

/** A placement file that cannot be used; the message says which field is wrong. */
public final class InvalidPlacementException extends RuntimeException {
    public InvalidPlacementException(String message) {
        super(message);
    }
}
