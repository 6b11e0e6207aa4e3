package dev.nuri.kernels.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Blas1Test {
    /**
     * axpyRows is attention's weighted sum of value rows (GQA's values, MLA's latent rows): it must give what one axpy
     * per row gives, to the bit, whatever the row length (whole 4-vector groups, single vectors, a scalar tail), so
     * that attention's outputs do not depend on which of the two computed them.
     */
    @ParameterizedTest(name = "len {0}")
    @ValueSource(ints = {1, 7, 16, 64, 83, 512, 531})
    void axpyRowsSumsAsOneAxpyPerRow(int len) {
        SplittableRandom random = new SplittableRandom(len);
        int n = 37, stride = len + 5, xo = 3, ao = 2, yo = 4;
        float[] alpha = new float[ao + n], x = new float[xo + n * stride], y = new float[yo + len + 2];
        for (int i = 0; i < alpha.length; i++) alpha[i] = (float) random.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        for (int i = 0; i < y.length; i++) y[i] = (float) random.nextGaussian();
        float[] expected = y.clone();
        for (int j = 0; j < n; j++) Blas1.axpy(alpha[ao + j], x, xo + j * stride, expected, yo, len);

        Blas1.axpyRows(alpha, ao, n, x, xo, stride, y, yo, len);

        assertThat(y).as("y, and nothing outside [yo, yo + len)").containsExactly(expected);
    }
}
