package dev.nuri.worker.transport;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;

/** Cuts a TCP byte stream into {@link DispatchFrame}s: a 4-byte little-endian length, then that many bytes. */
final class FrameReader implements Handler<Buffer> {
    private final RecordParser parser;
    private boolean expectingLength = true;

    FrameReader(Handler<DispatchFrame> onFrame) {
        parser = RecordParser.newFixed(4);
        parser.handler(chunk -> {
            if (expectingLength) {
                expectingLength = false;
                parser.fixedSizeMode(chunk.getIntLE(0));
            } else {
                expectingLength = true;
                parser.fixedSizeMode(4);
                onFrame.handle(DispatchFrame.decode(chunk));
            }
        });
    }

    @Override
    public void handle(Buffer data) {
        parser.handle(data);
    }
}
