package dev.nuri.operator.shard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.contract.PlacementFile;
import dev.nuri.contract.ShardSettings;
import dev.nuri.contract.ToolCallParser;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.dependents.PeerKeySecret;
import dev.nuri.operator.api.v1alpha1.BatchSpec;
import dev.nuri.operator.api.v1alpha1.ServingSpec;
import dev.nuri.operator.api.v1alpha1.ServingToolCallParser;
import dev.nuri.operator.placement.Placements;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Secret;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the operator writes into a shard pod, read back by the worker's own code: the pod's environment through
 * {@link ShardSettings} (what {@code WorkerMain shard} runs) and the placement ConfigMap's file through
 * {@link PlacementFile#parse} + {@link PlacementFile#validateFor} (what {@code Shard} runs at load). Fails when the
 * operator writes a variable the worker does not know, a value it cannot parse, or a placement it rejects.
 */
class ShardContractRoundTripTest {

    @ParameterizedTest
    @ValueSource(strings = {"axk1-rebellions-rebel.yaml", "qwen3-moe-furiosa.yaml", "tiny-cpu.yaml"})
    void workerReadsThePodTheOperatorWrites(String example) throws IOException {
        ModelDeployment md = ShardPodTemplateTest.example(example);
        md.getMetadata().setGeneration(4L);
        ServingSpec serving = md.getSpec().serving == null ? new ServingSpec() : md.getSpec().serving;
        md.getSpec().serving = serving;
        serving.maxSequences = 48;
        serving.maxBatchedTokens = 3072;
        serving.contextLength = 4096;
        serving.toolCallParser = ServingToolCallParser.HERMES;
        serving.apiKeySecret = new ServingSpec.SecretKeyRef();
        serving.apiKeySecret.name = "keys";
        serving.apiKeysSecret = new ServingSpec.ApiKeysRef();
        serving.apiKeysSecret.name = "more-keys";
        md.getSpec().batch = new dev.nuri.operator.api.v1alpha1.BatchSpec();
        md.getSpec().batch.stepTokens = 64;
        int shards = md.getSpec().experts.parallelism;
        int lastShard = shards - 1;
        String revision = "rev7";

        PodTemplateSpec pod = ShardPodTemplate.build(md, 1, "img", revision);
        ShardSettings settings = ShardSettings.parse(new String[0], environment(md, pod, lastShard));

        assertThat(settings.unknownVariables()).as("variables the worker does not know").isEmpty();
        settings.validate();
        assertThat(settings.groupIndex()).isEqualTo(1);
        assertThat(settings.shardIndex()).isEqualTo(lastShard);
        assertThat(settings.shards()).isEqualTo(shards);
        assertThat(settings.peers()).hasSize(shards).allSatisfy(p -> assertThat(p).endsWith(":" + settings.peerPort()));
        assertThat(settings.peers().get(lastShard)).startsWith(ShardNames.shardHost(md, 1, lastShard) + ":");
        assertThat(settings.peerPort()).isEqualTo(serving.peerPort());
        assertThat(settings.port()).isEqualTo(serving.port());
        assertThat(settings.maxBatch()).isEqualTo(48);
        assertThat(settings.maxBatchedTokens()).isEqualTo(3072);
        assertThat(settings.contextLength()).isEqualTo(4096);
        assertThat(settings.batchStepTokens()).isEqualTo(64);
        assertThat(settings.toolCallParser()).isEqualTo(ToolCallParser.HERMES);
        assertThat(settings.apiKey()).isEqualTo("secret:keys/api-key");
        // the keys file the worker is told to read is the Secret item the pod mounts there
        String keysFile = settings.string(dev.nuri.contract.ShardSetting.API_KEYS_FILE);
        var keysVolume = pod.getSpec().getVolumes().stream().filter(v -> v.getSecret() != null
                && "more-keys".equals(v.getSecret().getSecretName())).findFirst().orElseThrow();
        var keysMount = pod.getSpec().getContainers().get(0).getVolumeMounts().stream()
                .filter(m -> m.getName().equals(keysVolume.getName())).findFirst().orElseThrow();
        assertThat(keysMount.getReadOnly()).isTrue();
        assertThat(keysMount.getSubPath()).as("a subPath mount would never see the Secret's updates").isNull();
        assertThat(keysFile).isEqualTo(keysMount.getMountPath() + "/" + keysVolume.getSecret().getItems().get(0).getPath());
        assertThat(keysVolume.getSecret().getItems().get(0).getKey()).isEqualTo(ServingSpec.ApiKeysRef.DEFAULT_KEY);
        assertThat(settings.peerKey()).as("the peer key from the operator's Secret").isNotNull();
        assertThat(settings.quantization()).isEqualTo(md.getSpec().model.quantization == null ? null
                : md.getSpec().model.quantization.setting());
        assertThat(settings.model()).isNotBlank();

        // the file NURI_PLACEMENT_FILE names is the ConfigMap key the placement dependent writes
        Path placementFile = settings.placementFile();
        assertThat(placementFile.getFileName().toString()).isEqualTo(ShardNames.placementFile(revision));
        String written = Placements.of(md.getSpec().experts, md.getMetadata().getGeneration()).toJson();
        int[] moeLayers = IntStream.range(1, 4).toArray();
        PlacementFile read = PlacementFile.parse(written).validateFor(md.getSpec().experts.total, settings.shards(), moeLayers);
        assertThat(read.generation()).isEqualTo(4L);
        for (int s = 0; s < shards; s++) {
            assertThat(read.expertsOf(s)).isNotEmpty();
        }
    }

    /** Fields left unset: the worker's defaults are the CRD's. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-cpu.yaml"})
    void unsetServingFieldsMeanTheSameOnBothSides(String example) throws IOException {
        ModelDeployment md = ShardPodTemplateTest.example(example);
        md.getSpec().serving = null;
        ShardSettings settings = ShardSettings.parse(new String[0], environment(md, ShardPodTemplate.build(md, 0, "img", "r"), 0));
        ServingSpec crdDefaults = new ServingSpec();
        assertThat(settings.maxBatch()).isEqualTo(crdDefaults.maxSequences());
        assertThat(settings.maxBatchedTokens()).isEqualTo(crdDefaults.maxBatchedTokens());
        assertThat(settings.peerPort()).isEqualTo(crdDefaults.peerPort());
        assertThat(settings.port()).isEqualTo(crdDefaults.port());
        assertThat(settings.batchStepTokens()).as("spec.batch.stepTokens' documented default").isEqualTo(BatchSpec.DEFAULT_STEP_TOKENS);
        assertThat(settings.quantizeLmHead()).as("spec.model.quantizeLmHead unset: the head as stored").isFalse();
    }

    @Test
    void aQuantisedOutputHeadReachesTheWorker() throws IOException {
        ModelDeployment md = ShardPodTemplateTest.example("tiny-cpu.yaml");
        md.getSpec().model.quantization = dev.nuri.operator.api.v1alpha1.ModelQuantization.Q8_0;
        md.getSpec().model.quantizeLmHead = true;
        ShardSettings settings = ShardSettings.parse(new String[0], environment(md, ShardPodTemplate.build(md, 0, "img", "r"), 0));
        settings.validate();
        assertThat(settings.quantization()).isEqualTo(dev.nuri.contract.Quantization.Q8_0);
        assertThat(settings.quantizeLmHead()).isTrue();
    }

    /** The environment kubelet would give shard {@code ordinal}: field and Secret references resolved. */
    static Map<String, String> environment(ModelDeployment md, PodTemplateSpec pod, int ordinal) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar e : ShardPodTemplateTest.worker(pod).getEnv()) {
            if (e.getValueFrom() == null) {
                env.put(e.getName(), e.getValue());
            } else if (e.getValueFrom().getFieldRef() != null) {
                assertThat(e.getValueFrom().getFieldRef().getFieldPath()).contains(ShardLabels.POD_INDEX);
                env.put(e.getName(), Integer.toString(ordinal));
            } else {
                var ref = e.getValueFrom().getSecretKeyRef();
                Secret ours = PeerKeySecret.desired(md, dev.nuri.operator.dependents.PeerKeys.random().of(md));
                env.put(e.getName(), ref.getName().equals(ours.getMetadata().getName())
                        ? ours.getStringData().get(ref.getKey())            // the Secret the operator creates
                        : "secret:" + ref.getName() + "/" + ref.getKey()); // a user's Secret (the API key)
            }
        }
        return env;
    }
}
