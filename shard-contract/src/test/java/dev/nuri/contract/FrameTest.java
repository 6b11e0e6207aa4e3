package dev.nuri.contract;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FrameTest {
    static final Frame.Limits LIMITS = new Frame.Limits(3, 16, 8, 16);

    @Test
    void dispatchRoundTripsWithExactF32AndEmptySlots() {
        float[] hidden = {1.5f, -2.25f, 3.0e-3f, 7f, 0f, -1e10f};
        var f = new Frame.Dispatch(99L, 42L, 5, WireDType.F32, 2, 3, 2, new int[] {7, -1, 3, 12},
                new float[] {0.5f, 0f, 0.25f, 0.125f}, hidden);
        byte[] bytes = f.encode();
        assertThat(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(bytes.length - 4);
        // kind + header + 4 slots * (u16 id + f32 weight) + 6 floats
        assertThat(bytes.length).isEqualTo(4 + Frame.Dispatch.HEADER + 4 * 6 + 6 * 4);
        var back = (Frame.Dispatch) decode(bytes, LIMITS);
        assertThat(back.callId()).isEqualTo(99L);
        assertThat(back.generation()).isEqualTo(42L);
        assertThat(back.layer()).isEqualTo(5);
        assertThat(back.k()).isEqualTo(2);
        assertThat(back.experts()).containsExactly(7, -1, 3, 12);
        assertThat(back.weights()).containsExactly(0.5f, 0f, 0.25f, 0.125f);
        assertThat(back.vectors()).containsExactly(hidden);
    }

    @Test
    void bf16HalvesTheVectorBytesAndRoundsToNearestEven() {
        float[] v = {1.0f, 1.00390625f /* 1 + 2^-8: a tie, rounds to even 1.0 */, 1.01171875f /* rounds up */, -3.5f};
        byte[] bytes = new Frame.Combine(1L, 1, WireDType.BF16, 1, 4, v).encode();
        assertThat(bytes.length).isEqualTo(4 + Frame.Combine.HEADER + 4 * 2);
        var back = (Frame.Combine) decode(bytes, new Frame.Limits(4, 1, 8, 16));
        assertThat(back.vectors()).containsExactly(1.0f, 1.0f, 1.015625f, -3.5f);
    }

    @Test
    void helloAndFailureCarryTheirFields() {
        byte[] nonce = PeerKey.nonce();
        byte[] proof = PeerKey.nonce();
        var hello = (Frame.Hello) decode(new Frame.Hello(7, 3, 0x1234_5678_9abcL, nonce, proof).encode(), LIMITS);
        assertThat(hello.group()).isEqualTo(7);
        assertThat(hello.shard()).isEqualTo(3);
        assertThat(hello.modelFingerprint()).isEqualTo(0x1234_5678_9abcL);
        assertThat(hello.nonce()).isEqualTo(nonce);
        assertThat(hello.proof()).isEqualTo(proof);
        assertThat(((Frame.Proof) decode(new Frame.Proof(proof).encode(), LIMITS)).proof()).isEqualTo(proof);
        assertThat(new Frame.Hello(1, 2, 3, nonce).encode().length - 4).isEqualTo(Frame.HANDSHAKE_MAX_BYTES);
        assertThat(decode(new Frame.Failure(4, "전문가 없음").encode(), LIMITS)).isEqualTo(new Frame.Failure(4, "전문가 없음"));
    }

    @Test
    void headersBeyondTheLimitsAreRefusedBeforeAllocating() {
        // 20000 x 20000 announced in a 24-byte COMBINE: refused from the header alone
        ByteBuffer huge = ByteBuffer.allocate(1 + 8 + 2 + 1 + 4 + 4).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) Frame.COMBINE).putLong(1).putShort((short) 0).put((byte) 0).putInt(20000).putInt(20000);
        assertThatThrownBy(() -> Frame.decode(huge.flip(), LIMITS)).isInstanceOf(Frame.BadFrameException.class)
                .hasMessageContaining("hidden size 20000 is not the model's 3");
        byte[] tooMany = new Frame.Combine(1, 0, WireDType.F32, 17, 3, new float[17 * 3]).encode();
        assertThatThrownBy(() -> decode(tooMany, LIMITS)).hasMessageContaining("17 tokens is outside 1..16");
        byte[] badExpert = new Frame.Dispatch(1, 0, 0, WireDType.F32, 1, 3, 1, new int[] {16}, new float[1], new float[3]).encode();
        assertThatThrownBy(() -> decode(badExpert, LIMITS)).hasMessageContaining("expert 16");
        byte[] truncated = new Frame.Combine(1, 0, WireDType.F32, 2, 3, new float[6]).encode();
        assertThatThrownBy(() -> Frame.decode(ByteBuffer.wrap(truncated, 4, truncated.length - 8), LIMITS))
                .hasMessageContaining("COMBINE body has 20 bytes where its header says 24");
        assertThatThrownBy(() -> Frame.decode(ByteBuffer.wrap(new byte[] {9}), LIMITS)).hasMessageContaining("unknown frame kind 9");
        assertThatThrownBy(() -> Frame.decode(ByteBuffer.wrap(new byte[] {2, 1}), LIMITS)).hasMessageContaining("ends inside its header");
    }

    @Test
    void lengthPrefixIsCappedByTheLimits() {
        int max = LIMITS.maxFrameBytes();
        Frame.checkLength(max, LIMITS);
        assertThatThrownBy(() -> Frame.checkLength(0x7fffffffL, LIMITS)).isInstanceOf(Frame.BadFrameException.class)
                .hasMessageContaining("frame length 2147483647 is outside 1.." + max);
        assertThatThrownBy(() -> Frame.checkLength(0, LIMITS)).isInstanceOf(Frame.BadFrameException.class);
        // the largest valid DISPATCH fits under the cap
        int tokens = 16;
        assertThat(new Frame.Dispatch(1, 0, 0, WireDType.F32, tokens, 3, 8, new int[tokens * 8], new float[tokens * 8],
                new float[tokens * 3]).encode().length - 4).isLessThanOrEqualTo(max);
    }

    private static Frame decode(byte[] bytes, Frame.Limits limits) {
        return Frame.decode(ByteBuffer.wrap(bytes, 4, bytes.length - 4), limits);
    }
}
