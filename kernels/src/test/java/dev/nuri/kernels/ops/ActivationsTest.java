package dev.nuri.kernels.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The vector softmax against the formula in doubles, on lengths around the vector width and an offset slice. */
class ActivationsTest {
    @Test
    void softmaxMatchesTheFormulaAndLeavesTheRestAlone() {
        Random random = new Random(3);
        for (int len : new int[] {1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 1025}) {
            float[] x = new float[len + 5];
            for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextGaussian() * 8);
            float[] before = x.clone();
            Activations.softmax(x, 2, len);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < len; i++) max = Math.max(max, before[2 + i]);
            for (int i = 0; i < len; i++) sum += Math.exp(before[2 + i] - max);
            for (int i = 0; i < len; i++) {
                double p = Math.exp(before[2 + i] - max) / sum;
                assertThat((double) x[2 + i]).as("len %d, element %d", len, i).isCloseTo(p, within(1e-6 + 1e-5 * p));
            }
            assertThat(x[0]).isEqualTo(before[0]);
            assertThat(x[1]).isEqualTo(before[1]);
            for (int i = 2 + len; i < x.length; i++) assertThat(x[i]).isEqualTo(before[i]);
        }
    }

    /** The softmax's exponential: within 2 ulp of e^x on [-87, 0], the vector and the scalar form equal to the bit. */
    @Test
    void expNonPositiveIsWithinTwoUlpAndTheSameInVectorAndScalarForm() {
        var species = VectorShapes.F;
        Random random = new Random(5);
        float[] x = new float[species.length() * 4096];
        for (int i = 0; i < x.length; i++) x[i] = i < 4 ? -i * 1e-3f : (float) (-87 * Math.pow(random.nextDouble(), 3));
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += species.length()) {
            Activations.expNonPositive(jdk.incubator.vector.FloatVector.fromArray(species, x, i)).intoArray(y, i);
        }
        for (int i = 0; i < x.length; i++) {
            double e = Math.exp(x[i]);
            assertThat(Math.abs(y[i] - e) / Math.ulp((float) e)).as("ulp error at %s", x[i]).isLessThanOrEqualTo(2.0);
            assertThat(Activations.expNonPositive(x[i])).as("scalar form at %s", x[i]).isEqualTo(y[i]);
        }
        assertThat(Activations.expNonPositive(0f)).isEqualTo(1f);
        assertThat(Activations.expNonPositive(Float.NEGATIVE_INFINITY)).isBetween(0f, 1.2e-38f);
    }
}
