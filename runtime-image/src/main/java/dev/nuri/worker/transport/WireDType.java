package dev.nuri.worker.transport;

import io.vertx.core.buffer.Buffer;

/** How hidden vectors and partial sums travel between shards. */
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

    static WireDType ofCode(int code) {
        for (WireDType d : values()) if (d.code == code) return d;
        throw new IllegalArgumentException("unknown wire dtype " + code);
    }

    public static WireDType parse(String name) {
        return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
    }

    void append(Buffer buffer, float[] values, int from, int count) {
        byte[] bytesOut = new byte[count * bytes];
        if (this == F32) {
            for (int i = 0; i < count; i++) {
                int bits = Float.floatToRawIntBits(values[from + i]);
                int o = i * 4;
                bytesOut[o] = (byte) bits;
                bytesOut[o + 1] = (byte) (bits >>> 8);
                bytesOut[o + 2] = (byte) (bits >>> 16);
                bytesOut[o + 3] = (byte) (bits >>> 24);
            }
        } else {
            for (int i = 0; i < count; i++) {
                int bf = toBf16(values[from + i]);
                bytesOut[i * 2] = (byte) bf;
                bytesOut[i * 2 + 1] = (byte) (bf >>> 8);
            }
        }
        buffer.appendBytes(bytesOut);
    }

    void read(Buffer buffer, int offset, float[] into, int from, int count) {
        byte[] b = buffer.getBytes(offset, offset + count * bytes);
        if (this == F32) {
            for (int i = 0; i < count; i++) {
                int o = i * 4;
                into[from + i] = Float.intBitsToFloat((b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24);
            }
        } else {
            for (int i = 0; i < count; i++) {
                into[from + i] = Float.intBitsToFloat(((b[i * 2] & 0xff) | (b[i * 2 + 1] & 0xff) << 8) << 16);
            }
        }
    }

    static int toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // NaN stays NaN
        return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
    }
}
