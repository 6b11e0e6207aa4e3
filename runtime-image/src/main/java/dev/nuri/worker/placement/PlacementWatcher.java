package dev.nuri.worker.placement;

import dev.nuri.contract.InvalidPlacementException;
import dev.nuri.contract.PlacementFile;
import io.vertx.core.Vertx;

import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * Re-reads the placement file when its content changes (the operator rewrites the ConfigMap; kubelet swaps the
 * mounted file through a symlink, so content is compared rather than the modification time). A file that does not
 * parse keeps the previous placement in force.
 */
public final class PlacementWatcher implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PlacementWatcher.class.getName());

    private final Vertx vertx;
    private final Path file;
    private final Consumer<PlacementFile> onChange;
    private final long timerId;
    private volatile String lastContent;

    public PlacementWatcher(Vertx vertx, Path file, String initialContent, long periodMs, Consumer<PlacementFile> onChange) {
        this.vertx = vertx;
        this.file = file;
        this.onChange = onChange;
        this.lastContent = initialContent;
        this.timerId = vertx.setPeriodic(periodMs, id -> check());
    }

    private void check() {
        vertx.fileSystem().readFile(file.toString()).onSuccess(buffer -> {
            String content = buffer.toString();
            if (Objects.equals(content, lastContent)) return;
            lastContent = content;
            try {
                PlacementFile placement = PlacementFile.parse(content);
                LOG.info("placement file " + file + " changed: generation " + placement.generation());
                onChange.accept(placement);
            } catch (InvalidPlacementException e) {
                LOG.warning("ignoring placement file " + file + ": " + e.getMessage() + " (the previous placement stays in force)");
            }
        });
    }

    @Override
    public void close() {
        vertx.cancelTimer(timerId);
    }
}
