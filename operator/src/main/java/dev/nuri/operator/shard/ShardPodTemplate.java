package dev.nuri.operator.shard;

import dev.nuri.contract.ShardProbes;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.WorkerJvm;
import dev.nuri.operator.accelerator.AcceleratorProfiles;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentSpec;
import dev.nuri.operator.api.v1alpha1.ModelSource;
import dev.nuri.operator.api.v1alpha1.SchedulingSpec;
import dev.nuri.operator.api.v1alpha1.ServingSpec;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The pod of one shard of group {@code g}: who it is, where its peers are, the placement file, the
 * model volume, the accelerator and where it may run. Everything here shapes the pod, so it all
 * counts towards the template revision.
 */
public final class ShardPodTemplate {

    public static final String CONTAINER = "worker";
    static final String MODEL_DIR = "/models";
    static final String PLACEMENT_DIR = "/etc/nuri/placement";
    /** The API keys file's folder: a Secret volume (not a subPath), so that edits reach running shards. */
    static final String API_KEYS_DIR = "/etc/nuri/api-keys";
    static final String API_KEYS_FILE = "api-keys";
    /** NURI_BATCH_DIR: the pod's own folder (subPathExpr, the pod's name) of the spec.batch.storage volume. */
    static final String BATCH_DIR = "/var/lib/nuri/batch";
    static final String POD_NAME = "POD_NAME";
    /** Long enough to finish in-flight generations after SIGTERM; the worker drains within it. */
    public static final long TERMINATION_GRACE_SECONDS = 120;
    /** Before SIGTERM: the time for a deleted pod to leave the Service's endpoints everywhere. */
    static final long PRE_STOP_SECONDS = 5;
    static final long RUN_AS_USER = 10001;
    /** The init container that downloads and checks an http model source (the worker image's fetch-model). */
    public static final String FETCH_CONTAINER = "fetch-model";

    private ShardPodTemplate() {}

    public static PodTemplateSpec build(ModelDeployment md, int group, String image, String revision) {
        ModelDeploymentSpec spec = md.getSpec();
        int shards = spec.experts.parallelism();
        Map<String, String> labels = new LinkedHashMap<>(ShardLabels.deployment(md));
        labels.put(ShardLabels.GROUP, Integer.toString(group));
        labels.put(ShardLabels.REVISION, revision);
        labels.put(ShardLabels.TRAFFIC, ShardLabels.TRAFFIC_ON);

        List<Volume> volumes = new ArrayList<>();
        List<VolumeMount> mounts = new ArrayList<>();
        volumes.add(new VolumeBuilder().withName("placement")
                .withNewConfigMap().withName(ShardNames.placement(md)).endConfigMap().build());
        mounts.add(mount("placement", PLACEMENT_DIR, true));
        ServingSpec.ApiKeysRef apiKeys = spec.serving == null ? null : spec.serving.apiKeysSecret;
        if (apiKeys != null) {
            volumes.add(new VolumeBuilder().withName("api-keys").withNewSecret().withSecretName(apiKeys.name)
                    .addNewItem().withKey(apiKeys.key()).withPath(API_KEYS_FILE).endItem().endSecret().build());
            mounts.add(mount("api-keys", API_KEYS_DIR, true));
        }
        volumes.add(new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build());
        mounts.add(mount("tmp", "/tmp", false));
        batchVolume(spec).ifPresent(v -> {
            volumes.add(v);
            mounts.add(new VolumeMountBuilder().withName(v.getName()).withMountPath(BATCH_DIR).withSubPathExpr("$(" + POD_NAME + ")").build());
        });
        String workerImage = spec.image != null && !spec.image.isBlank() ? spec.image : image;
        ModelVolume model = modelVolume(spec, workerImage);
        model.volume().ifPresent(v -> {
            volumes.add(v);
            mounts.add(mount(v.getName(), MODEL_DIR, !model.writable()));
        });

        Container worker = new ContainerBuilder()
                .withName(CONTAINER)
                .withImage(workerImage)
                .withArgs("shard")
                // a crash loop's last log lines reach the pod status, and from there Degraded
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                // keeps serving while the endpoints drop the deleted pod (kube-proxy lags a few seconds);
                // only then SIGTERM starts the group drain (the worker README)
                .withNewLifecycle().withNewPreStop().withNewSleep().withSeconds(PRE_STOP_SECONDS).endSleep().endPreStop()
                .endLifecycle()
                .withEnv(env(md, group, shards, model.location(), revision))
                .addNewPort().withName("http").withContainerPort(spec.serving().port()).endPort()
                .addNewPort().withName("peer").withContainerPort(spec.serving().peerPort()).endPort()
                .withResources(resources(spec))
                .withVolumeMounts(mounts)
                // liveness only says the process is alive, with minutes of patience: a restart loses the group's
                // requests; readiness carries the serving state (ShardProbes says why)
                .withStartupProbe(probe("/health/live", ShardProbes.STARTUP_PERIOD_SECONDS,
                        ShardProbes.LIVENESS_TIMEOUT_SECONDS, ShardProbes.STARTUP_FAILURE_THRESHOLD))
                .withReadinessProbe(probe("/health/ready", ShardProbes.READINESS_PERIOD_SECONDS,
                        ShardProbes.READINESS_TIMEOUT_SECONDS, ShardProbes.READINESS_FAILURE_THRESHOLD))
                .withLivenessProbe(probe("/health/live", ShardProbes.LIVENESS_PERIOD_SECONDS,
                        ShardProbes.LIVENESS_TIMEOUT_SECONDS, ShardProbes.LIVENESS_FAILURE_THRESHOLD))
                .withSecurityContext(restrictedContainer())
                .build();

        return new PodTemplateSpecBuilder()
                .withNewMetadata().withLabels(labels).endMetadata()
                .withNewSpec()
                .withSubdomain(ShardNames.shardsService(md))
                .withInitContainers(model.init().map(List::of).orElse(List.of()))
                .withContainers(worker)
                .withVolumes(volumes)
                .withNodeSelector(nodeSelector(spec))
                .withTolerations(tolerations(spec))
                .withAffinity(affinity(md, group))
                .withPriorityClassName(spec.scheduling().priorityClassName)
                .withTerminationGracePeriodSeconds(TERMINATION_GRACE_SECONDS)
                .withEnableServiceLinks(false)
                .withAutomountServiceAccountToken(false)
                .withNewSecurityContext()
                    .withRunAsNonRoot(true).withRunAsUser(RUN_AS_USER).withRunAsGroup(RUN_AS_USER).withFsGroup(RUN_AS_USER)
                    .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .endSecurityContext()
                .endSpec()
                .build();
    }

    private static List<EnvVar> env(ModelDeployment md, int group, int shards, String modelLocation, String revision) {
        ModelDeploymentSpec spec = md.getSpec();
        List<String> peers = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            peers.add(ShardNames.shardHost(md, group, s) + ":" + spec.serving().peerPort());
        }
        List<EnvVar> env = new ArrayList<>();
        // apiVersion as the API server defaults it: a fieldRef is atomic, so the operator owns the whole of it
        env.add(new EnvVarBuilder().withName(ShardSetting.SHARD_INDEX.env()).withNewValueFrom().withNewFieldRef()
                .withApiVersion("v1").withFieldPath("metadata.labels['" + ShardLabels.POD_INDEX + "']").endFieldRef().endValueFrom().build());
        env.add(plain(ShardSetting.GROUP_INDEX.env(), Integer.toString(group)));
        env.add(plain(ShardSetting.SHARDS.env(), Integer.toString(shards)));
        env.add(plain(ShardSetting.PEERS.env(), String.join(",", peers)));
        env.add(plain(ShardSetting.PLACEMENT_FILE.env(), PLACEMENT_DIR + "/" + ShardNames.placementFile(revision)));
        env.add(plain(ShardSetting.MODEL.env(), modelLocation));
        env.add(plain(ShardSetting.SERVED_MODEL_NAME.env(), spec.model.name));
        env.add(plain(ShardSetting.PORT.env(), Integer.toString(spec.serving().port())));
        env.add(plain(ShardSetting.PEER_PORT.env(), Integer.toString(spec.serving().peerPort())));
        env.add(plain(ShardSetting.BIND_HOST.env(), "0.0.0.0"));
        env.add(new EnvVarBuilder().withName(ShardSetting.PEER_KEY.env()).withNewValueFrom().withNewSecretKeyRef()
                .withName(ShardNames.peerKey(md)).withKey(ShardNames.PEER_KEY_ENTRY).endSecretKeyRef().endValueFrom().build());
        env.add(plain(ShardSetting.DRAIN_SECONDS.env(), Long.toString(TERMINATION_GRACE_SECONDS - PRE_STOP_SECONDS - 15)));
        ServingSpec serving = spec.serving;
        if (serving != null && serving.maxSequences != null) {
            env.add(plain(ShardSetting.MAX_BATCH.env(), serving.maxSequences.toString()));
        }
        if (serving != null && serving.maxBatchedTokens != null) {
            env.add(plain(ShardSetting.MAX_BATCHED_TOKENS.env(), serving.maxBatchedTokens.toString()));
        }
        if (spec.model.quantization != null) {
            env.add(plain(ShardSetting.QUANTIZATION.env(), spec.model.quantization.setting().value()));
        }
        if (Boolean.TRUE.equals(spec.model.quantizeLmHead)) env.add(plain(ShardSetting.QUANTIZE_LM_HEAD.env(), "true"));
        if (serving != null && serving.contextLength != null) {
            env.add(plain(ShardSetting.CONTEXT_LENGTH.env(), serving.contextLength.toString()));
        }
        if (serving != null && serving.toolCallParser != null) {
            env.add(plain(ShardSetting.TOOL_CALL_PARSER.env(), serving.toolCallParser.setting().value()));
        }
        if (serving != null && serving.apiKeySecret != null) {
            env.add(new EnvVarBuilder().withName(ShardSetting.API_KEY.env()).withNewValueFrom().withNewSecretKeyRef()
                    .withName(serving.apiKeySecret.name)
                    .withKey(serving.apiKeySecret.key())
                    .endSecretKeyRef().endValueFrom().build());
        }
        if (serving != null && serving.apiKeysSecret != null) {
            env.add(plain(ShardSetting.API_KEYS_FILE.env(), API_KEYS_DIR + "/" + API_KEYS_FILE));
        }
        if (spec.batch != null && spec.batch.stepTokens != null) {
            env.add(plain(ShardSetting.BATCH_STEP_TOKENS.env(), spec.batch.stepTokens.toString()));
        }
        if (batchVolume(spec).isPresent()) {
            // the pod's name names its folder in the batch volume (subPathExpr); a StatefulSet pod keeps it across restarts
            env.add(new EnvVarBuilder().withName(POD_NAME).withNewValueFrom().withNewFieldRef().withApiVersion("v1")
                    .withFieldPath("metadata.name").endFieldRef().endValueFrom().build());
            env.add(plain(ShardSetting.BATCH_DIR.env(), BATCH_DIR));
        }
        // The tokenizer's native library unpacks itself; the root filesystem is read-only.
        env.add(plain("DJL_CACHE_DIR", "/tmp/djl"));
        // The worker's JVM options (the image sets the same; this variable replaces the image's): the heap follows the
        // container limit, the weights live off-heap (mmap)
        env.add(plain("JAVA_TOOL_OPTIONS", WorkerJvm.toolOptions()));
        return env;
    }

    private static EnvVar plain(String name, String value) {
        return new EnvVarBuilder().withName(name).withValue(value).build();
    }

    /** The spec.batch.storage volume, if any. */
    private static Optional<Volume> batchVolume(ModelDeploymentSpec spec) {
        var storage = spec.batch == null ? null : spec.batch.storage;
        if (storage == null) return Optional.empty();
        VolumeBuilder v = new VolumeBuilder().withName("batch");
        if (storage.pvc != null) return Optional.of(v.withNewPersistentVolumeClaim().withClaimName(storage.pvc.claimName).endPersistentVolumeClaim().build());
        if (storage.emptyDir != null) {
            return Optional.of(v.withNewEmptyDir().withSizeLimit(storage.emptyDir.sizeLimit == null ? null
                    : new io.fabric8.kubernetes.api.model.Quantity(storage.emptyDir.sizeLimit)).endEmptyDir().build());
        }
        return Optional.empty();
    }

    /** Where the worker finds the model, and what volume and init container put it there. */
    private record ModelVolume(String location, Optional<Volume> volume, Optional<Container> init, boolean writable) {}

    private static ModelVolume modelVolume(ModelDeploymentSpec spec, String workerImage) {
        ModelSource source = spec.model.source;
        if (source.builtin != null) {
            return new ModelVolume("builtin:" + source.builtin.name, Optional.empty(), Optional.empty(), false);
        }
        if (source.pvc != null) {
            return new ModelVolume(under(source.pvc.path()), Optional.of(new VolumeBuilder().withName("model")
                    .withNewPersistentVolumeClaim().withClaimName(source.pvc.claimName).withReadOnly(true)
                    .endPersistentVolumeClaim().build()), Optional.empty(), false);
        }
        if (source.hostPath != null) {
            return new ModelVolume(MODEL_DIR, Optional.of(new VolumeBuilder().withName("model")
                    .withNewHostPath().withPath(source.hostPath.path).withType("Directory").endHostPath().build()),
                    Optional.empty(), false);
        }
        if (source.image != null) {
            return new ModelVolume(under(source.image.path()), Optional.of(new VolumeBuilder().withName("model")
                    .withNewImage().withReference(source.image.reference).withPullPolicy("IfNotPresent").endImage()
                    .build()), Optional.empty(), false);
        }
        if (source.http != null) {
            // The worker image itself downloads, verifies, then unpacks (no other image to pull); a
            // digest mismatch fails the init container with a termination message the operator reads.
            Container fetch = new ContainerBuilder().withName(FETCH_CONTAINER).withImage(workerImage)
                    .withArgs("fetch-model", "--dest", MODEL_DIR)
                    .withEnv(plain("NURI_MODEL_URL", source.http.url), plain("NURI_MODEL_SHA256", source.http.sha256),
                            plain("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=50"))
                    .withResources(resources(spec))
                    .withVolumeMounts(mount("model", MODEL_DIR, false), mount("tmp", "/tmp", false))
                    .withTerminationMessagePolicy("FallbackToLogsOnError")
                    .withSecurityContext(restrictedContainer())
                    .build();
            return new ModelVolume(MODEL_DIR, Optional.of(new VolumeBuilder().withName("model")
                    .withNewEmptyDir().endEmptyDir().build()), Optional.of(fetch), true);
        }
        throw new IllegalArgumentException("spec.model.source sets no source");
    }

    private static String under(String path) {
        if (path == null || path.isBlank() || path.equals("/")) {
            return MODEL_DIR;
        }
        return MODEL_DIR + (path.startsWith("/") ? path : "/" + path);
    }

    private static VolumeMount mount(String name, String path, boolean readOnly) {
        // false left out, as the API server stores it (it drops a false readOnly, which would read as drift)
        return new VolumeMountBuilder().withName(name).withMountPath(path).withReadOnly(readOnly ? Boolean.TRUE : null).build();
    }

    private static ResourceRequirements resources(ModelDeploymentSpec spec) {
        ResourceRequirements user = spec.resources == null ? new ResourceRequirements() : spec.resources;
        Map<String, Quantity> requests = new LinkedHashMap<>(user.getRequests() == null ? Map.of() : user.getRequests());
        Map<String, Quantity> limits = new LinkedHashMap<>(user.getLimits() == null ? Map.of() : user.getLimits());
        AcceleratorProfiles.resourceName(spec.accelerator).ifPresent(resource -> {
            // Extended resources cannot be overcommitted: request and limit must be equal.
            Quantity devices = new Quantity(Integer.toString(AcceleratorProfiles.devicesPerShard(spec.accelerator)));
            requests.put(resource, devices);
            limits.put(resource, devices);
        });
        return new ResourceRequirementsBuilder().withRequests(requests).withLimits(limits).build();
    }

    private static Map<String, String> nodeSelector(ModelDeploymentSpec spec) {
        Map<String, String> selector = new LinkedHashMap<>(AcceleratorProfiles.of(spec.accelerator).nodeLabels());
        if (spec.scheduling().nodeSelector != null) {
            selector.putAll(spec.scheduling().nodeSelector);
        }
        return selector;
    }

    private static List<Toleration> tolerations(ModelDeploymentSpec spec) {
        List<Toleration> tolerations = new ArrayList<>(AcceleratorProfiles.tolerations(spec.accelerator));
        if (spec.scheduling().tolerations != null) {
            tolerations.addAll(spec.scheduling().tolerations);
        }
        return tolerations;
    }

    /** Shards of a group share one domain of groupTopologyKey; groups prefer different domains of groupSpreadKey. */
    private static Affinity affinity(ModelDeployment md, int group) {
        SchedulingSpec scheduling = md.getSpec().scheduling();
        String packKey = scheduling.groupTopologyKey();
        String spreadKey = scheduling.groupSpreadKey();
        AffinityBuilder affinity = new AffinityBuilder();
        if (!packKey.isBlank()) {
            affinity.withNewPodAffinity().addNewRequiredDuringSchedulingIgnoredDuringExecution()
                    .withTopologyKey(packKey)
                    .withNewLabelSelector().withMatchLabels(ShardLabels.group(md, group)).endLabelSelector()
                    .endRequiredDuringSchedulingIgnoredDuringExecution().endPodAffinity();
        }
        if (!spreadKey.isBlank()) {
            affinity.withNewPodAntiAffinity().addNewPreferredDuringSchedulingIgnoredDuringExecution()
                    .withWeight(100)
                    .withNewPodAffinityTerm().withTopologyKey(spreadKey)
                    .withNewLabelSelector()
                        .addToMatchLabels(ShardLabels.DEPLOYMENT, md.getMetadata().getName())
                        .addNewMatchExpression().withKey(ShardLabels.GROUP).withOperator("NotIn")
                            .withValues(Integer.toString(group)).endMatchExpression()
                    .endLabelSelector()
                    .endPodAffinityTerm()
                    .endPreferredDuringSchedulingIgnoredDuringExecution().endPodAntiAffinity();
        }
        return packKey.isBlank() && spreadKey.isBlank() ? null : affinity.build();
    }

    private static Probe probe(String path, int periodSeconds, int timeoutSeconds, int failureThreshold) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withNewPort("http").endHttpGet()
                .withPeriodSeconds(periodSeconds).withFailureThreshold(failureThreshold).withTimeoutSeconds(timeoutSeconds)
                .build();
    }

    /** Passes the Pod Security "restricted" profile. */
    private static SecurityContext restrictedContainer() {
        return new SecurityContextBuilder()
                .withAllowPrivilegeEscalation(false)
                .withReadOnlyRootFilesystem(true)
                .withRunAsNonRoot(true)
                .withNewCapabilities().withDrop("ALL").endCapabilities()
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .build();
    }
}
