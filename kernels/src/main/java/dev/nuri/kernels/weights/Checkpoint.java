package dev.nuri.kernels.weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The tensors of a Hugging Face layout directory: {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}. Also used for generated (builtin) weights, which have no files.
 */
public final class Checkpoint {
    private final String origin;
    private final Map<String, Tensor> tensors;

    public Checkpoint(String origin, Map<String, Tensor> tensors) {
        this.origin = origin;
        this.tensors = tensors;
    }

    @SuppressWarnings("unchecked")
    public static Checkpoint open(Path dir, Arena arena) {
        Path index = dir.resolve("model.safetensors.index.json");
        Set<Path> files = new TreeSet<>();
        Map<String, String> expectedIn = new LinkedHashMap<>();
        try {
            if (Files.exists(index)) {
                Map<String, Object> json = Json.parseObject(Files.readString(index));
                Map<String, Object> map = (Map<String, Object>) json.get("weight_map");
                if (map == null) throw new WeightFormatException(index + " has no weight_map");
                for (var e : map.entrySet()) {
                    expectedIn.put(e.getKey(), (String) e.getValue());
                    files.add(dir.resolve((String) e.getValue()));
                }
            } else {
                try (Stream<Path> s = Files.list(dir)) {
                    s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).forEach(files::add);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint directory " + dir, e);
        }
        if (files.isEmpty()) {
            throw new WeightFormatException(dir + " holds no *.safetensors file; expected a Hugging Face model directory");
        }
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (Path f : files) {
            if (!Files.exists(f)) {
                throw new WeightFormatException(index + " names shard " + f.getFileName() + ", which is missing");
            }
            all.putAll(SafetensorsFile.open(f, arena).tensors());
        }
        for (var e : expectedIn.entrySet()) {
            if (!all.containsKey(e.getKey())) {
                throw new WeightFormatException(index + " places tensor '" + e.getKey() + "' in " + e.getValue()
                        + " but that shard does not contain it");
            }
        }
        return new Checkpoint(dir.toString(), all);
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Optional<Tensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new WeightFormatException("checkpoint " + origin + " has no tensor '" + name
                    + "'; it does not match the architecture named in config.json");
        }
        return t;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public String origin() {
        return origin;
    }
}
