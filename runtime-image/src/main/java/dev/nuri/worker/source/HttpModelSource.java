package dev.nuri.worker.source;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * An {@code http} model source: downloads a tar archive of the model folder, checks its SHA-256
 * against the one the ModelDeployment names, and only then unpacks it. Runs as the shard pod's
 * init container ({@code nuri-worker fetch-model}), from the worker image itself, so a cluster
 * without registry access needs no other image.
 */
public final class HttpModelSource {

    /** Why the model could not be fetched, in words a user can act on. */
    public static final class FetchFailed extends Exception {
        public FetchFailed(String message) {
            super(message);
        }
    }

    private static final String DOWNLOAD = ".download";

    private HttpModelSource() {}

    /** Downloads {@code url} into {@code dest}, checks it against {@code sha256} and unpacks it there. */
    public static void fetch(URI url, String sha256, Path dest) throws FetchFailed, IOException, InterruptedException {
        Files.createDirectories(dest);
        Path archive = dest.resolve(DOWNLOAD);
        try {
            String actual = download(url, archive);
            if (!actual.equalsIgnoreCase(sha256)) {
                throw new FetchFailed("the archive at " + url + " has SHA-256 " + actual
                        + ", but spec.model.source.http.sha256 is " + sha256.toLowerCase()
                        + "; fix the digest or the URL (nothing was unpacked)");
            }
            unpack(archive, dest);
        } finally {
            Files.deleteIfExists(archive);
        }
    }

    private static String download(URI url, Path archive) throws FetchFailed, IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(HttpRequest.newBuilder(url).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new FetchFailed("cannot download " + url + ": " + e);
        }
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream body = response.body()) {
            if (response.statusCode() != 200) {
                throw new FetchFailed("cannot download " + url + ": HTTP " + response.statusCode());
            }
            try (InputStream in = new DigestInputStream(body, digest); OutputStream out = Files.newOutputStream(archive)) {
                in.transferTo(out);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Unpacks a tar (optionally gzip'd); only plain files and folders, never outside {@code dest}. */
    static void unpack(Path archive, Path dest) throws FetchFailed, IOException {
        Path root = dest.toAbsolutePath().normalize();
        try (InputStream file = new BufferedInputStream(Files.newInputStream(archive));
             TarArchiveInputStream tar = new TarArchiveInputStream(gzipped(archive) ? new GzipCompressorInputStream(file) : file)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path target = root.resolve(entry.getName()).normalize();
                if (!target.startsWith(root) || entry.getName().startsWith("/")) {
                    throw new FetchFailed("the archive's entry " + entry.getName() + " points outside the model folder");
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(target);
                } else if (entry.isFile()) {
                    Files.createDirectories(target.getParent());
                    Files.copy(tar, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING); // a retried init container
                } else {
                    throw new FetchFailed("the archive's entry " + entry.getName()
                            + " is a link or device; a model folder holds plain files only");
                }
            }
        }
    }

    private static boolean gzipped(Path archive) throws IOException {
        try (InputStream in = Files.newInputStream(archive)) {
            return in.read() == 0x1f && in.read() == 0x8b;
        }
    }
}
