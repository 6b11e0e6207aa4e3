package dev.nuri.worker;

import dev.nuri.contract.Flags;

import java.util.Map;

/** The flags of {@code serve} and {@code bench}: launcher options, not shard settings (those are in ShardSetting). */
public final class CliFlags {
    private final Map<String, String> flags;

    private CliFlags(Map<String, String> flags) {
        this.flags = flags;
    }

    public static CliFlags parse(String[] args) {
        return new CliFlags(Flags.parse(args));
    }

    public String string(String name, String dflt) {
        String v = flags.get(name);
        return v == null || v.isBlank() ? dflt : v.trim();
    }

    public int integer(String name, int dflt) {
        String v = string(name, null);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be an integer, got '" + v + "'");
        }
    }
}
