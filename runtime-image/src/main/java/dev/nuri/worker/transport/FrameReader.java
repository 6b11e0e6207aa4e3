package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;

import java.nio.ByteBuffer;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * Cuts a TCP byte stream into {@link Frame}s: a 4-byte little-endian length, then that many bytes. A length or header
 * beyond the limits is reported before its bytes are buffered or allocated; after that the reader ignores the rest
 * (its owner closes the connection).
 */
final class FrameReader implements Handler<Buffer> {
    private final RecordParser parser;
    private final IntSupplier maxLength;
    private final Frame.Limits limits;
    private boolean expectingLength = true;
    private boolean failed;

    /** @param maxLength the largest length prefix accepted now (smaller until the handshake is done) */
    FrameReader(IntSupplier maxLength, Frame.Limits limits, Handler<Frame> onFrame, Consumer<Frame.BadFrameException> onBadFrame) {
        this.maxLength = maxLength;
        this.limits = limits;
        parser = RecordParser.newFixed(Frame.LENGTH_BYTES);
        parser.handler(chunk -> {
            if (failed) return;
            try {
                if (expectingLength) {
                    long length = Integer.toUnsignedLong(chunk.getIntLE(0));
                    Frame.checkLength(length, this.maxLength.getAsInt());
                    expectingLength = false;
                    parser.fixedSizeMode((int) length);
                } else {
                    expectingLength = true;
                    parser.fixedSizeMode(Frame.LENGTH_BYTES);
                    onFrame.handle(Frame.decode(ByteBuffer.wrap(chunk.getBytes()), this.limits));
                }
            } catch (Frame.BadFrameException e) {
                failed = true;
                onBadFrame.accept(e);
            }
        });
    }

    @Override
    public void handle(Buffer data) {
        if (!failed) parser.handle(data);
    }
}
