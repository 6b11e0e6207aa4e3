package dev.nuri.operator.dependents;

import dev.nuri.contract.PeerKey;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Each deployment's peer key, derived from the operator's master key: HMAC-SHA256(master, namespace, name, uid). The
 * operator writes it into {@code <name>-peer-key} once and computes it again whenever it calls a group's internal
 * endpoints (the rebalancer), so it never has to read a Secret: its RBAC lets it create Secrets, not read them.
 *
 * <p>The master comes from a file (the chart mounts its {@code <release>-peer-master} Secret there), so every replica
 * and every restart derives the same keys. Without one, a random master lives as long as the process: enough for a
 * development run, but a deployment created before a restart then has a key the operator no longer knows (its
 * rebalancing fails with 401 until the key is rotated, docs/security.md).
 */
public final class PeerKeys {
    static final int MIN_MASTER_BYTES = 32;
    public static final String ROTATION = "serving.nuri.dev/peer-key-rotation";

    private final SecretKeySpec master;

    private PeerKeys(byte[] master) {
        if (master.length < MIN_MASTER_BYTES) {
            throw new IllegalArgumentException("the peer master key must be at least " + MIN_MASTER_BYTES + " bytes, got "
                    + master.length);
        }
        this.master = new SecretKeySpec(master, "HmacSHA256");
    }

    /** The master key in this file (its bytes, surrounding whitespace removed). */
    public static PeerKeys fromFile(Path file) {
        try {
            return new PeerKeys(Files.readString(file, StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the peer master key file " + file, e);
        }
    }

    /** A random master, for this process only. */
    public static PeerKeys random() {
        return new PeerKeys(HexFormat.of().parseHex(PeerKey.generate()));
    }

    /**
     * The peer key of this deployment, as the hex text {@link PeerKey#parse} reads (and the Secret holds). It changes
     * with the deployment's uid (deleted and made again under the same name) and with its {@value #ROTATION}
     * annotation, which a user bumps to rotate the key by hand (docs/security.md).
     */
    public String of(ModelDeployment md) {
        var annotations = md.getMetadata().getAnnotations();
        String rotation = annotations == null ? "" : annotations.getOrDefault(ROTATION, "");
        String id = String.join("\n", "nuri-peer-key/v1", md.getMetadata().getNamespace(), md.getMetadata().getName(),
                String.valueOf(md.getMetadata().getUid()), rotation);
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(master);
            return HexFormat.of().formatHex(mac.doFinal(id.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }
}
