package dev.nuri.kernels.weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped {@code .safetensors} file: 8-byte little-endian header length, a JSON header
 * ({@code name -> {dtype, shape, data_offsets}}), then the raw bytes. Tensors are slices of the mapping.
 */
public final class SafetensorsFile {
    private final Path path;
    private final Map<String, Tensor> tensors;

    private SafetensorsFile(Path path, Map<String, Tensor> tensors) {
        this.path = path;
        this.tensors = tensors;
    }

    /** Maps {@code path} into {@code arena}; the tensors live as long as the arena. */
    public static SafetensorsFile open(Path path, Arena arena) {
        MemorySegment file;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new WeightFormatException("cannot map " + path + ": " + e.getMessage(), e);
        }
        return parse(path, file);
    }

    @SuppressWarnings("unchecked")
    static SafetensorsFile parse(Path path, MemorySegment file) {
        long size = file.byteSize();
        if (size < 8) throw truncated(path, "shorter than the 8-byte header length");
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || 8 + headerLen > size) {
            throw truncated(path, "header claims " + headerLen + " bytes but the file has " + size);
        }
        byte[] hb = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        Map<String, Object> header;
        try {
            header = Json.parseObject(new String(hb, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(path + " has a malformed safetensors header: " + e.getMessage(), e);
        }
        MemorySegment body = file.asSlice(8 + headerLen);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (var e : header.entrySet()) {
            if (e.getKey().equals("__metadata__")) continue;
            Map<String, Object> info = (Map<String, Object>) e.getValue();
            String name = e.getKey();
            DType dtype = DType.fromSafetensors((String) info.get("dtype"), name);
            List<Object> shapeList = (List<Object>) info.get("shape");
            long[] shape = new long[shapeList.size()];
            for (int i = 0; i < shape.length; i++) shape[i] = ((Number) shapeList.get(i)).longValue();
            List<Object> off = (List<Object>) info.get("data_offsets");
            long begin = ((Number) off.get(0)).longValue();
            long end = ((Number) off.get(1)).longValue();
            if (end > body.byteSize() || begin > end) {
                throw truncated(path, "tensor '" + name + "' ends at byte " + end + " of a " + body.byteSize() + "-byte body");
            }
            long expected = Tensor.numel(shape) * dtype.bytes();
            if (end - begin != expected) {
                throw new WeightFormatException(path + ": tensor '" + name + "' spans " + (end - begin)
                        + " bytes but its dtype and shape need " + expected);
            }
            tensors.put(name, new Tensor(name, dtype, shape, body.asSlice(begin, end - begin)));
        }
        return new SafetensorsFile(path, tensors);
    }

    private static WeightFormatException truncated(Path path, String why) {
        return new WeightFormatException(path + " is truncated or not a safetensors file (" + why
                + "); download it again");
    }

    public Path path() {
        return path;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }
}
