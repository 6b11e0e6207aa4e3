package dev.nuri.kernels.weights;

/**
 * FP8 e4m3 (the "fn" variant: no infinities, max ±448). Placing the 7 magnitude bits at float bit 20
 * gives a float whose value is 2^-120 times the e4m3 value, subnormals included, so decoding is a shift
 * and one multiply — which vector code can fold into the block scale.
 */
public final class Fp8E4m3 {
    /** 2^120: undoes the exponent-bias difference (127 - 7) of the shifted bits. */
    public static final float BIAS_SCALE = 0x1p120f;
    public static final float MAX = 448f;

    private Fp8E4m3() {}

    public static float toFloat(byte b) {
        int i = b;
        return Float.intBitsToFloat(((i & 0x80) << 24) | ((i & 0x7F) << 20)) * BIAS_SCALE;
    }

    /** Round-to-nearest-even encoding, saturating at ±448 (what torch's float8_e4m3fn cast does for finite inputs). */
    public static byte fromFloat(float f) {
        int sign = Float.floatToRawIntBits(f) < 0 ? 0x80 : 0;
        float a = Math.abs(f);
        if (Float.isNaN(f)) return (byte) 0x7F;
        if (a >= MAX) return (byte) (sign | 0x7E);
        // exhaustive nearest search over the 127 non-negative finite codes: simple and only used at load/test time
        int best = 0;
        float bestErr = Float.MAX_VALUE;
        for (int c = 0; c <= 0x7E; c++) {
            float v = toFloat((byte) c);
            float err = Math.abs(v - a);
            if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
                best = c;
                bestErr = err;
            }
        }
        return (byte) (sign | best);
    }
}
