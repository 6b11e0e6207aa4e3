package dev.nuri.contract;

import java.nio.ByteBuffer;
import java.util.Locale;

/** How hidden vectors and partial sums travel between shards ({@code NURI_WIRE_DTYPE}). */
public enum WireDType {
    F32(0, 4),
    /** bfloat16 with round-to-nearest-even: half the bytes of F32, the dtype DeepSeek combines in. */
    BF16(1, 2);

    final int code;
    final int bytes;

    WireDType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    /** Bytes per value on the wire. */
    public int bytes() {
        return bytes;
    }

    static WireDType ofCode(int code) {
        for (WireDType d : values()) if (d.code == code) return d;
        return null;
    }

    public static WireDType parse(String name) {
        for (WireDType d : values()) if (d.name().equalsIgnoreCase(name.trim())) return d;
        throw new IllegalArgumentException(ShardSetting.WIRE_DTYPE.names() + " must be bf16 or f32, got '" + name + "'");
    }

    /** Rounds values in place to what they are after crossing the wire (bf16: round to nearest even; f32: as they are). */
    public void round(float[] values) {
        if (this == F32) return;
        for (int i = 0; i < values.length; i++) values[i] = Float.intBitsToFloat(toBf16(values[i]) << 16);
    }

    /** Writes values[from, from+count) at the buffer's position (little-endian) and advances it. */
    void put(ByteBuffer out, float[] values, int from, int count) {
        if (this == F32) {
            out.asFloatBuffer().put(values, from, count);
            out.position(out.position() + count * 4);
        } else {
            for (int i = 0; i < count; i++) out.putShort((short) toBf16(values[from + i]));
        }
    }

    /** Reads count values at the buffer's position into into[from..] and advances it. */
    void get(ByteBuffer in, float[] into, int from, int count) {
        if (this == F32) {
            in.asFloatBuffer().get(into, from, count);
            in.position(in.position() + count * 4);
        } else {
            for (int i = 0; i < count; i++) into[from + i] = Float.intBitsToFloat((in.getShort() & 0xffff) << 16);
        }
    }

    static int toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // NaN stays NaN
        return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
