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

    /** dot4 is MLA's four query heads against one latent row: each of its sums must be dot's, to the bit. */
    @ParameterizedTest(name = "len {0}")
    @ValueSource(ints = {1, 7, 16, 64, 83, 512, 531})
    void dot4SumsAsFourDots(int len) {
        SplittableRandom random = new SplittableRandom(len + 100);
        float[] a = new float[4 * len + 9], x = new float[len + 3], r = new float[7];
        for (int i = 0; i < a.length; i++) a[i] = (float) random.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        int[] ao = {2, 2 + len + 3, 5 + 2 * len, 9 + 3 * len - 4}; // the last overlaps the third: offsets are free
        Blas1.dot4(a, ao[0], ao[1], ao[2], ao[3], x, 3, len, r, 2);
        for (int i = 0; i < 4; i++) assertThat(r[2 + i]).as("sum %d", i).isEqualTo(Blas1.dot(a, ao[i], x, 3, len));
        assertThat(r[0]).isZero();
        assertThat(r[6]).isZero();
    }

    /** axpyRows4 is four axpyRows calls sharing the rows' loads: the same floats, and nothing outside the four outputs. */
    @ParameterizedTest(name = "len {0}")
    @ValueSource(ints = {1, 7, 16, 64, 83, 512, 531})
    void axpyRows4SumsAsFourAxpyRows(int len) {
        SplittableRandom random = new SplittableRandom(len + 200);
        int n = 19, stride = len + 5, xo = 3;
        float[] alpha = new float[4 * n + 6], x = new float[xo + n * stride], y = new float[4 * (len + 2) + 3];
        for (int i = 0; i < alpha.length; i++) alpha[i] = (float) random.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        for (int i = 0; i < y.length; i++) y[i] = (float) random.nextGaussian();
        int[] ao = {1, 1 + n, 3 + 2 * n, 6 + 3 * n}, yo = {1, len + 3, 2 * len + 5, 3 * len + 7};
        float[] expected = y.clone();
        for (int i = 0; i < 4; i++) Blas1.axpyRows(alpha, ao[i], n, x, xo, stride, expected, yo[i], len);

        Blas1.axpyRows4(alpha, ao[0], ao[1], ao[2], ao[3], n, x, xo, stride, y, yo[0], yo[1], yo[2], yo[3], len);

        assertThat(y).containsExactly(expected);
    }
}
