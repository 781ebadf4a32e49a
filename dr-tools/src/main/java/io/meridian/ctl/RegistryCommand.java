package io.meridian.ctl;

import io.meridian.api.Limits;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DeregisterResponse;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.ListServicesRequest;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.api.v1.ServiceSummary;
import io.meridian.client.RegistryClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl registry register|heartbeat|deregister|discover|services|watch}: the service
 * registry of one namespace ({@code --namespace}).
 */
@Command(
    name = "registry",
    mixinStandardHelpOptions = true,
    description = "The service registry: instances of services, their health and their changes.",
    subcommands = {
      RegistryCommand.Register.class,
      RegistryCommand.Heartbeat.class,
      RegistryCommand.Deregister.class,
      RegistryCommand.Discover.class,
      RegistryCommand.Services.class,
      RegistryWatchCommand.class
    })
final class RegistryCommand {
  @ParentCommand Meridianctl root;

  @Option(
      names = {"-n", "--namespace"},
      scope = ScopeType.INHERIT,
      paramLabel = "NS",
      description = "The namespace the services belong to (required).")
  String namespace;

  /** The namespace, required by every registry call. */
  String namespace(CommandSpec spec) {
    if (namespace == null || namespace.isBlank()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--namespace: none given (expected: --namespace NS)");
    }
    return namespace;
  }

  RegistryClient registry() {
    return root.client().registry();
  }

  Output output(CommandSpec spec) {
    return root.output(spec.commandLine().getOut());
  }

  static String address(Instance i) {
    return i.getAddress() + ":" + i.getPort();
  }

  @Command(
      name = "register",
      mixinStandardHelpOptions = true,
      description = "Registers INSTANCE_ID of SERVICE, or updates it in place.")
  static final class Register implements Callable<Integer> {
    @ParentCommand RegistryCommand registry;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SERVICE")
    String service;

    @Parameters(index = "1", paramLabel = "INSTANCE_ID")
    String instanceId;

    @Option(
        names = "--address",
        required = true,
        paramLabel = "HOST:PORT",
        description = "Where callers connect to the instance.")
    String address;

    @Option(names = "--zone", paramLabel = "Z", description = "The instance's zone.")
    String zone = "";

    @Option(names = "--region", paramLabel = "R", description = "The instance's region.")
    String region = "";

    @Option(names = "--tag", paramLabel = "TAG", description = "A tag (repeatable).")
    List<String> tags = new ArrayList<>();

    @Option(
        names = "--metadata",
        paramLabel = "KEY=VALUE",
        description = "A metadata entry (repeatable).")
    Map<String, String> metadata = new LinkedHashMap<>();

    @Option(
        names = "--ttl",
        paramLabel = "DURATION",
        converter = Durations.class,
        description =
            "Time to live of the instance's lease, whole seconds (default: the server's).")
    Duration ttl;

    @Option(
        names = "--lease",
        paramLabel = "ID",
        description = "Bind the instance to this existing lease instead of a new one.")
    long lease;

    @Override
    public Integer call() {
      int colon = address.lastIndexOf(':');
      int port = -1;
      if (colon > 0) {
        try {
          port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
          port = -1;
        }
      }
      if (port < 1 || port > 65535) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--address: " + address + " (expected: HOST:PORT, port 1..65535)");
      }
      if (ttl != null && (ttl.toMillis() % 1000 != 0)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--ttl: " + ttl.toMillis() + "ms (expected: whole seconds)");
      }
      RegisterResponse r =
          registry
              .registry()
              .register(
                  RegisterRequest.newBuilder()
                      .setNamespace(registry.namespace(spec))
                      .setService(service)
                      .setInstanceId(instanceId)
                      .setAddress(address.substring(0, colon))
                      .setPort(port)
                      .setZone(zone)
                      .setRegion(region)
                      .addAllTags(tags)
                      .putAllMetadata(metadata)
                      .setTtl(ttl == null ? 0 : ttl.toSeconds())
                      .setLease(lease)
                      .build());
      registry
          .output(spec)
          .print(
              r,
              new Output.Table("INSTANCE", "LEASE", "TTL", "REVISION")
                  .row(
                      r.getInstance().getId(),
                      r.getInstance().getLease(),
                      r.getTtl() + "s",
                      r.getHeader().getRevision()));
      return 0;
    }
  }

  @Command(
      name = "heartbeat",
      mixinStandardHelpOptions = true,
      description = "Keeps INSTANCE_ID's lease alive: once, or --every DURATION until interrupted.")
  static final class Heartbeat implements Callable<Integer> {
    @ParentCommand RegistryCommand registry;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SERVICE")
    String service;

    @Parameters(index = "1", paramLabel = "INSTANCE_ID")
    String instanceId;

    @Option(
        names = "--every",
        paramLabel = "DURATION",
        converter = Durations.class,
        description = "Heartbeat again after each DURATION until interrupted (Ctrl-C).")
    Duration every;

    @Option(
        names = "--count",
        paramLabel = "N",
        description = "With --every: stop after N heartbeats (default: never).")
    long count;

    @Override
    public Integer call() throws InterruptedException {
      if (count < 0) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--count: " + count + " (expected: >= 0)");
      }
      HeartbeatRequest request =
          HeartbeatRequest.newBuilder()
              .setNamespace(registry.namespace(spec))
              .setService(service)
              .setInstanceId(instanceId)
              .build();
      Output out = registry.output(spec);
      for (long beats = 1; ; beats++) {
        HeartbeatResponse r = registry.registry().heartbeat(request);
        String line =
            String.format(
                "%s  lease %d  ttl %ds%s",
                instanceId,
                r.getLease(),
                r.getTtl(),
                r.getSelfPreservation() ? "  (self-preservation)" : "");
        if (every == null) {
          out.print(
              r,
              new Output.Table("INSTANCE", "LEASE", "TTL", "SELF_PRESERVATION")
                  .row(instanceId, r.getLease(), r.getTtl() + "s", r.getSelfPreservation()));
          return 0;
        }
        out.printEach(r, line);
        if (count > 0 && beats >= count) {
          return 0;
        }
        // A command line's pacing: the JVM ends on Ctrl-C.
        Thread.sleep(every.toMillis());
      }
    }
  }

  @Command(
      name = "deregister",
      mixinStandardHelpOptions = true,
      description = "Removes INSTANCE_ID of SERVICE at once (not an error if it is not there).")
  static final class Deregister implements Callable<Integer> {
    @ParentCommand RegistryCommand registry;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SERVICE")
    String service;

    @Parameters(index = "1", paramLabel = "INSTANCE_ID")
    String instanceId;

    @Override
    public Integer call() {
      DeregisterResponse r =
          registry
              .registry()
              .deregister(
                  DeregisterRequest.newBuilder()
                      .setNamespace(registry.namespace(spec))
                      .setService(service)
                      .setInstanceId(instanceId)
                      .build());
      registry
          .output(spec)
          .print(
              r,
              new Output.Table("INSTANCE", "DEREGISTERED", "REVISION")
                  .row(instanceId, r.getDeregistered(), r.getHeader().getRevision()));
      return 0;
    }
  }

  /**
   * Discovery. The server orders instances zone-local first ({@code near_zone}, then {@code
   * near_region}), so the table keeps its order. {@code --wait} is a blocking query: it answers
   * when the instances change, or with the same instances when the wait ends.
   */
  @Command(
      name = "discover",
      mixinStandardHelpOptions = true,
      description = "The instances of SERVICE, those in --zone (then --region) first.")
  static final class Discover implements Callable<Integer> {
    @ParentCommand RegistryCommand registry;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SERVICE")
    String service;

    @Option(names = "--zone", paramLabel = "Z", description = "The caller's zone: its first.")
    String zone = "";

    @Option(names = "--region", paramLabel = "R", description = "The caller's region: its next.")
    String region = "";

    @Option(
        names = {"--passing-only", "--healthy-only"},
        description = "Only instances whose health is PASSING.")
    boolean passingOnly;

    @Option(names = "--tag", paramLabel = "TAG", description = "Only instances with TAG.")
    List<String> tags = new ArrayList<>();

    @Option(
        names = "--wait",
        paramLabel = "DURATION",
        converter = Durations.class,
        description =
            "Blocking query: answer when the instances change, or after DURATION (at most 5m).")
    Duration wait;

    @Option(
        names = "--consistency",
        paramLabel = "LEVEL",
        description = "LOCAL (default), LINEARIZABLE, SERIALIZABLE or CACHED.")
    String consistency;

    @Override
    public Integer call() {
      if (wait != null && (wait.isZero() || wait.toMillis() > Limits.MAX_DISCOVER_WAIT_MS)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--wait: " + wait + " (expected: more than 0, at most 5m)");
      }
      DiscoverRequest request =
          DiscoverRequest.newBuilder()
              .setNamespace(registry.namespace(spec))
              .setService(service)
              .setNearZone(zone)
              .setNearRegion(region)
              .setPassingOnly(passingOnly)
              .addAllTags(tags)
              .setConsistency(
                  consistency == null
                      ? Consistency.CONSISTENCY_UNSPECIFIED
                      : KvCommand.consistency(spec, consistency))
              .build();
      DiscoverResponse r = registry.registry().discover(request);
      if (wait != null) {
        // One blocking call: it answers when an instance changes after this answer's revision.
        r =
            registry
                .registry()
                .discover(
                    request.toBuilder()
                        .setWaitRevision(Math.max(1, r.getHeader().getRevision()))
                        .setWaitMs(wait.toMillis())
                        .build());
      }
      Output.Table table = new Output.Table("INSTANCE", "ADDRESS", "REGION", "ZONE", "HEALTH");
      for (Instance i : r.getInstancesList()) {
        table.row(i.getId(), address(i), i.getRegion(), i.getZone(), i.getHealth());
      }
      registry.output(spec).print(r, table);
      return 0;
    }
  }

  @Command(
      name = "services",
      mixinStandardHelpOptions = true,
      description = "The services of the namespace, with their instance and passing counts.")
  static final class Services implements Callable<Integer> {
    @ParentCommand RegistryCommand registry;
    @Spec CommandSpec spec;

    @Option(
        names = "--consistency",
        paramLabel = "LEVEL",
        description = "LOCAL (default), LINEARIZABLE, SERIALIZABLE or CACHED.")
    String consistency;

    @Override
    public Integer call() {
      ListServicesResponse r =
          registry
              .registry()
              .listServices(
                  ListServicesRequest.newBuilder()
                      .setNamespace(registry.namespace(spec))
                      .setConsistency(
                          consistency == null
                              ? Consistency.CONSISTENCY_UNSPECIFIED
                              : KvCommand.consistency(spec, consistency))
                      .build());
      Output.Table table = new Output.Table("SERVICE", "INSTANCES", "PASSING");
      for (ServiceSummary s : r.getServicesList()) {
        table.row(s.getName(), s.getInstances(), s.getPassing());
      }
      registry.output(spec).print(r, table);
      return 0;
    }
  }
}
