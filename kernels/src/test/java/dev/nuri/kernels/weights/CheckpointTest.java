package dev.nuri.kernels.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nuri.kernels.model.CausalLm;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    /** A safetensors file with one F32 tensor "a" [2,3] = 0..5 and one BF16 tensor "b" [2] = {1.5, -2}. */
    static byte[] file(String dtypeOfB, int dropBytes) {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"" + dtypeOfB + "\",\"shape\":[2],\"data_offsets\":[24,28]},\"__metadata__\":{\"format\":\"pt\"}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 28).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        for (int i = 0; i < 6; i++) buf.putFloat(i);
        buf.putShort((short) (Float.floatToRawIntBits(1.5f) >>> 16)).putShort((short) (Float.floatToRawIntBits(-2f) >>> 16));
        return Arrays.copyOf(buf.array(), buf.capacity() - dropBytes);
    }

    @Test
    void mapsTensorsWithoutCopyingAndDecodesTypes() throws IOException {
        Files.write(dir.resolve("model.safetensors"), file("BF16", 0));
        Checkpoint c = Checkpoint.open(dir, Arena.ofAuto());
        Tensor a = c.tensor("a");
        assertThat(a.shape()).containsExactly(2, 3);
        assertThat(a.data().isMapped()).isTrue();
        assertThat(a.toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(c.tensor("b").toFloatArray()).containsExactly(1.5f, -2f);
        assertThat(a.slice(1).toFloatArray()).containsExactly(3, 4, 5);
    }

    @Test
    void readsShardsNamedByTheIndex() throws IOException {
        Files.write(dir.resolve("part-1.safetensors"), file("BF16", 0));
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\":{},\"weight_map\":{\"a\":\"part-1.safetensors\",\"b\":\"part-1.safetensors\"}}");
        assertThat(Checkpoint.open(dir, Arena.ofAuto()).tensor("b").dtype()).isEqualTo(DType.BF16);
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"part-2.safetensors\"}}");
        assertThatThrownBy(() -> Checkpoint.open(dir, Arena.ofAuto()))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("part-2.safetensors");
    }

    @Test
    void namesAMissingTensor() throws IOException {
        Files.write(dir.resolve("model.safetensors"), file("BF16", 0));
        assertThatThrownBy(() -> Checkpoint.open(dir, Arena.ofAuto()).tensor("model.norm.weight"))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("'model.norm.weight'");
    }

    @Test
    void namesAWrongShape() throws IOException {
        Files.write(dir.resolve("model.safetensors"), file("BF16", 0));
        Tensor a = Checkpoint.open(dir, Arena.ofAuto()).tensor("a");
        assertThatThrownBy(() -> a.expectShape(3, 2)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("[2, 3]").hasMessageContaining("[3, 2]");
    }

    @Test
    void rejectsATruncatedFile() throws IOException {
        Files.write(dir.resolve("model.safetensors"), file("BF16", 3));
        assertThatThrownBy(() -> Checkpoint.open(dir, Arena.ofAuto()))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("truncated").hasMessageContaining("'b'");
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertThatThrownBy(() -> Checkpoint.open(dir, Arena.ofAuto())).hasMessageContaining("truncated");
    }

    @Test
    void rejectsAnUnknownDtype() throws IOException {
        Files.write(dir.resolve("model.safetensors"), file("I16", 0));
        assertThatThrownBy(() -> Checkpoint.open(dir, Arena.ofAuto()))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("dtype I16");
    }

    @Test
    void modelLoadExplainsAMissingConfig() {
        assertThatThrownBy(() -> CausalLm.load(dir)).isInstanceOf(WeightFormatException.class).hasMessageContaining("config.json");
    }

    @Test
    void fp8DecodesEveryFiniteCode() {
        for (int c = 0; c < 256; c++) {
            if ((c & 0x7F) == 0x7F) continue; // NaN codes
            int e = (c >> 3) & 0xF, m = c & 7;
            double expected = (e == 0 ? m / 8.0 * Math.pow(2, -6) : (1 + m / 8.0) * Math.pow(2, e - 7)) * ((c & 0x80) != 0 ? -1 : 1);
            assertThat((double) Fp8E4m3.toFloat((byte) c)).as("code %d", c).isEqualTo(expected);
            assertThat(Fp8E4m3.fromFloat((float) expected)).isEqualTo((byte) c == (byte) 0x80 ? (byte) 0x80 : (byte) c);
        }
    }
}
