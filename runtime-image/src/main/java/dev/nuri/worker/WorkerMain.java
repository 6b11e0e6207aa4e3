package dev.nuri.worker;

/** Entry point of the shard worker that runs in each pod. */
public final class WorkerMain {
    private WorkerMain() {}

    public static void main(String[] args) {
        System.err.println("nuri-worker: not implemented yet");
        System.exit(2);
    }
}
