package dev.nuri.kernels.cli;

/** Command-line entry point for kernel spot checks. */
public final class KernelsMain {
    private KernelsMain() {}

    public static void main(String[] args) {
        System.err.println("usage: nuri-kernels generate --model <dir> --prompt-ids 1,2,3 --max-new 16");
        System.exit(2);
    }
}
