package dev.nuri.worker.bench;

import dev.nuri.kernels.sampling.Sampler;
import dev.nuri.kernels.sampling.SamplerSettings;
import dev.nuri.worker.CliFlags;
import dev.nuri.worker.engine.LogitsConstraint;
import dev.nuri.worker.structured.StructuredOutput;
import dev.nuri.worker.structured.TokenAutomaton;
import dev.nuri.worker.structured.Vocabulary;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Cost of structured output: for each schema of a corpus, the time to compile it and the time its mask adds to each
 * sampled token (mask + advance, beside the sampler's own time), on first visits of the states (cold) and once they
 * are cached (warm). Logits are fresh random numbers at each step, so greedy decoding walks a random path through the
 * schema. Vocabularies: the builtin
 * tokenizer's, and a synthetic one of DeepSeek-V3's size (the 256 bytes plus n-grams of the schemas and of the
 * repository's docs), since no real 129k tokenizer ships with the repository.
 *
 * <pre>java -cp runtime-image/target/nuri-worker.jar dev.nuri.worker.bench.StructuredBench \
 *     --schemas runtime-image/src/test/resources/structured/schemas --vocab 129280</pre>
 */
public final class StructuredBench {
    private StructuredBench() {}

    public static void main(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
        Path dir = Path.of(flags.string("schemas", "runtime-image/src/test/resources/structured/schemas"));
        int tokens = flags.integer("tokens", 200);
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(f -> f.toString().endsWith(".json")).sorted().toList();
        }
        ModelTokenizer builtin = ModelTokenizer.builtin("tiny-axk1");
        long t0 = System.nanoTime();
        Vocabulary small = new Vocabulary(builtin);
        run("builtin tiny-axk1", small, (System.nanoTime() - t0) / 1e6, files, tokens);
        List<Path> text = new java.util.ArrayList<>(files);
        for (String t : flags.string("text", "docs,runtime-image/README.md,README.md").split(",")) {
            try (Stream<Path> s = Files.walk(Path.of(t))) {
                s.filter(Files::isRegularFile).sorted().forEach(text::add);
            }
        }
        byte[][] pieces = synthetic(text, flags.integer("vocab", 129_280));
        t0 = System.nanoTime();
        Vocabulary large = new Vocabulary(pieces, builtin.specialId(builtin.eosToken()));
        run("synthetic", large, (System.nanoTime() - t0) / 1e6, files, tokens);
    }

    private static void run(String name, Vocabulary vocabulary, double vocabMs, List<Path> files, int tokens) throws Exception {
        StructuredOutput structured = new StructuredOutput(vocabulary);
        double[] compileMs = new double[files.size()], coldUs = new double[files.size()], warmUs = new double[files.size()];
        double sampleUs = 0;
        int sampled = 0;
        for (int f = 0; f < files.size(); f++) {
            JsonObject schema = new JsonObject(Files.readString(files.get(f)));
            long c0 = System.nanoTime();
            TokenAutomaton automaton = structured.jsonSchema(schema);
            compileMs[f] = (System.nanoTime() - c0) / 1e6;
            LogitsConstraint.Factory factory = StructuredOutput.constraint(automaton);
            double[] cold = walk(factory, vocabulary.size(), tokens, 7), warm = walk(factory, vocabulary.size(), tokens, 7);
            coldUs[f] = cold[0];
            warmUs[f] = warm[0];
            sampleUs += warm[1] * warm[2];
            sampled += (int) warm[2];
        }
        System.out.printf("%s vocabulary (%d ids, %d ordinary): sorted in %.0f ms; %d schemas, %d tokens per walk%n", name,
                vocabulary.size(), vocabulary.ordinaryTokens(), vocabMs, files.size(), tokens);
        System.out.printf("  compile (schema -> grammar -> automaton): median %.3f ms, max %.3f ms%n", median(compileMs), max(compileMs));
        System.out.printf("  mask + advance per token, cold (states built on first visit): median %.1f us, max %.1f us%n", median(coldUs), max(coldUs));
        System.out.printf("  mask + advance per token, warm (states cached): median %.1f us, max %.1f us%n", median(warmUs), max(warmUs));
        System.out.printf("  the sampler alone (greedy over random logits: an argmax over the vocabulary): %.1f us per token%n",
                sampleUs / sampled);
    }

    /** One sequence of {@code tokens} draws; returns mean mask+advance us, mean sampling us, and the count of draws. */
    private static double[] walk(LogitsConstraint.Factory factory, int vocab, int tokens, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        LogitsConstraint c = factory.start();
        SamplerSettings settings = new SamplerSettings(0f, 0, 1f); // fresh random logits each step: argmax is a random walk
        long maskNanos = 0, sampleNanos = 0;
        int n = 0;
        for (int i = 0; i < tokens; i++) {
            float[] logits = new float[vocab];
            for (int v = 0; v < vocab; v++) logits[v] = (float) (random.nextGaussian() * 2);
            long a = System.nanoTime();
            c.mask(logits, tokens - i);
            long b = System.nanoTime();
            int token = Sampler.sample(logits, settings, random);
            long d = System.nanoTime();
            c.accept(token);
            long e = System.nanoTime();
            maskNanos += (b - a) + (e - d);
            sampleNanos += d - b;
            n++;
            if (Float.isInfinite(logits[token])) break;
        }
        return new double[] {maskNanos / 1e3 / n, sampleNanos / 1e3 / n, n};
    }

    /** The 256 bytes, then distinct 2..12-byte pieces of the texts, until {@code size} ids. */
    private static byte[][] synthetic(List<Path> files, int size) throws Exception {
        StringBuilder text = new StringBuilder();
        for (Path f : files) text.append(Files.readString(f));
        byte[] corpus = text.toString().getBytes(StandardCharsets.UTF_8);
        LinkedHashSet<String> pieces = new LinkedHashSet<>();
        for (int len = 2; len <= 12 && pieces.size() < size; len++) {
            for (int i = 0; i + len <= corpus.length && pieces.size() < size - 256 - 8; i++) {
                pieces.add(new String(corpus, i, len, StandardCharsets.ISO_8859_1));
            }
        }
        byte[][] byId = new byte[size][];
        for (int b = 0; b < 256; b++) byId[8 + b] = new byte[] {(byte) b}; // ids 0..7 stay special, as in the builtin
        int id = 264;
        for (String p : pieces) if (id < size) byId[id++] = p.getBytes(StandardCharsets.ISO_8859_1);
        return byId;
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double max(double[] xs) {
        return Arrays.stream(xs).max().orElse(0);
    }
}
