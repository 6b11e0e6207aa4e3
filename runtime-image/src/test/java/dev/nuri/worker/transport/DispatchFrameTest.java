package dev.nuri.worker.transport;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class DispatchFrameTest {
    @Test
    void dispatchRoundTripsWithExactF32() {
        float[] hidden = {1.5f, -2.25f, 3.0e-3f, 7f, 0f, -1e10f};
        DispatchFrame f = DispatchFrame.dispatch(WireDType.F32, 5, 99L, 2, 3, new int[] {1, 2}, new int[] {7, 3, 12},
                new float[] {0.5f, 0.25f, 0.125f}, hidden);
        Buffer b = f.encode();
        assertThat(b.getIntLE(0)).isEqualTo(b.length() - 4);
        DispatchFrame back = DispatchFrame.decode(b.slice(4, b.length()));
        assertThat(back.kind()).isEqualTo(DispatchFrame.Kind.DISPATCH);
        assertThat(back.layer()).isEqualTo(5);
        assertThat(back.callId()).isEqualTo(99L);
        assertThat(back.counts()).containsExactly(1, 2);
        assertThat(back.experts()).containsExactly(7, 3, 12);
        assertThat(back.weights()).containsExactly(0.5f, 0.25f, 0.125f);
        assertThat(back.vectors()).containsExactly(hidden);
        // header + counts + 3 * (u16 id + f32 weight) + 6 floats
        assertThat(b.length()).isEqualTo(DispatchFrame.HEADER_BYTES + 2 + 3 * 6 + 6 * 4);
    }

    @Test
    void bf16HalvesTheVectorBytesAndRoundsToNearestEven() {
        float[] v = {1.0f, 1.00390625f /* 1 + 2^-8: a tie, rounds to even 1.0 */, 1.01171875f /* rounds up */, -3.5f};
        DispatchFrame f = DispatchFrame.combine(WireDType.BF16, 1, 1L, 1, 4, v);
        Buffer b = f.encode();
        assertThat(b.length()).isEqualTo(DispatchFrame.HEADER_BYTES + 4 * 2);
        float[] back = DispatchFrame.decode(b.slice(4, b.length())).vectors();
        assertThat(back).containsExactly(1.0f, 1.0f, 1.015625f, -3.5f);
    }

    @Test
    void helloAndFailureCarryTheirFields() {
        DispatchFrame hello = DispatchFrame.decode(slice(DispatchFrame.hello(3, 7, 0).encode()));
        assertThat(hello.tokens()).isEqualTo(3);
        assertThat(hello.hidden()).isEqualTo(7);
        assertThat(DispatchFrame.decode(slice(DispatchFrame.failure(4, "전문가 없음").encode())).message()).isEqualTo("전문가 없음");
    }

    private static Buffer slice(Buffer b) {
        return b.slice(4, b.length());
    }
}
