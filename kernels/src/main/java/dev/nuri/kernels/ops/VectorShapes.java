package dev.nuri.kernels.ops;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every kernel uses. They must be {@code static final}: a species computed inside a
 * hot method defeats C2's intrinsics (measured 33× slower for BF16).
 */
final class VectorShapes {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as F, so a BF16 load widens into exactly one float vector. */
    static final VectorSpecies<Short> S_HALF =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    /** Bytes with as many lanes as F (FP8 and Q8_0 loads). */
    static final VectorSpecies<Byte> B_QUARTER =
            VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4));
    static final int L = F.length();

    private VectorShapes() {}

    static {
        if (ShortVector.SPECIES_PREFERRED == null || ByteVector.SPECIES_PREFERRED == null) throw new AssertionError();
    }
}
