package dev.nuri.kernels.backend;

import jdk.incubator.vector.FloatVector;

/** The Vector API on the CPU; the name records the vector width C2 picked, which decides kernel speed. */
public final class CpuVectorBackend implements Backend {
    static final CpuVectorBackend INSTANCE = new CpuVectorBackend();

    private CpuVectorBackend() {}

    @Override
    public String name() {
        return "cpu-vector-" + FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}
