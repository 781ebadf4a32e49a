package io.meridian.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.ClientFactory;
import io.meridian.api.DevPointer;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.client.MeridianClient;
import io.meridian.serving.tls.TlsFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code meridianctl}: Meridian's command line. Global options go anywhere on the line and every
 * command has {@code --help}.
 *
 * <p>Exit codes: 0 success, 1 the request failed (the error's code and message go to stderr), 2 the
 * command line is wrong (the message names the option).
 */
@Command(
    name = "meridianctl",
    mixinStandardHelpOptions = true,
    versionProvider = Meridianctl.Version.class,
    description = "Meridian's command line: keys, leases, locks and the service registry.",
    subcommands = {
      KvCommand.class,
      LeaseCommand.class,
      LockCommand.class,
      RegistryCommand.class,
      WatchCommand.class,
      StatusCommand.class,
      MemberCommand.class,
      RoleCommand.class,
      RoutingCommand.class,
      SnapshotCommand.class,
      RestoreCommand.class,
      FailoverCommand.class,
      SwitchoverCommand.class,
      RejoinCommand.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:success",
      "1:the request failed",
      "2:the command line is wrong",
      "3:unhealthy (status only)"
    })
public final class Meridianctl {
  /** Exit code of a request the cluster refused or that could not be made. */
  static final int FAILED = 1;

  /** Exit code of a wrong command line (picocli's own for what it parses). */
  static final int USAGE = 2;

  private static final String LOGBACK_CONFIG = "logback.configurationFile";

  /** Where {@code --endpoints} is read from when the flag is not given. */
  static final String ENDPOINTS_ENV = "MERIDIAN_ENDPOINTS";

  /** Where {@code --cacert}, {@code --cert} and {@code --key} are read from when not given. */
  static final String CACERT_ENV = "MERIDIAN_CACERT";

  static final String CERT_ENV = "MERIDIAN_CERT";
  static final String KEY_ENV = "MERIDIAN_KEY";

  @Option(
      names = "--endpoints",
      split = ",",
      scope = ScopeType.INHERIT,
      paramLabel = "URL",
      description =
          "Routers or nodes to call, comma-separated. Default: $"
              + ENDPOINTS_ENV
              + ", else the routers of the running `bin/meridian dev`, whose topology.json the"
              + " file $MERIDIAN_DEV_POINTER (default:"
              + " ${java.io.tmpdir}/meridian-dev-${user.name}.topology) names.")
  List<String> endpoints;

  @Option(
      names = {"-o", "--output"},
      scope = ScopeType.INHERIT,
      paramLabel = "FORMAT",
      description = "table (default), json (stable, for scripts) or yaml.")
  Output.Format output = Output.Format.table;

  @Option(
      names = "--timeout",
      scope = ScopeType.INHERIT,
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "How long one command may take, e.g. 500ms, 5s, 1m (default: 10s).")
  Duration timeout = Duration.ofSeconds(10);

  @Option(
      names = "--shard",
      scope = ScopeType.INHERIT,
      paramLabel = "S",
      description =
          "Name shard S on every call (the meridian-shard header), for nodes that host several"
              + " shards; routers pick the shard from the key and need none.")
  Integer shard;

  @Option(
      names = "--cacert",
      scope = ScopeType.INHERIT,
      paramLabel = "FILE",
      description =
          "PEM CA certificates the endpoints' certificates chain to, for https:// endpoints"
              + " (default: $"
              + CACERT_ENV
              + ", else the JDK's trust store).")
  Path cacert;

  @Option(
      names = "--cert",
      scope = ScopeType.INHERIT,
      paramLabel = "FILE",
      description =
          "PEM certificate to present where a port asks for one (mutual TLS); with --key"
              + " (default: $"
              + CERT_ENV
              + ").")
  Path cert;

  @Option(
      names = "--key",
      scope = ScopeType.INHERIT,
      paramLabel = "FILE",
      description = "The PKCS#8 PEM private key of --cert (default: $" + KEY_ENV + ").")
  Path key;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  private final Map<String, String> environment;
  // Standard error is a terminal: progress lines update in place.
  private boolean terminal;
  private MeridianClient client;
  private ClientFactory factory;
  private TlsFiles tls;
  private boolean tlsRead;
  private InputStream in = System.in;

  Meridianctl(Map<String, String> environment) {
    this.environment = environment;
  }

  public static void main(String[] args) {
    // Its own name: region-cluster (snapshot files, restored members) brings the node's
    // logback.xml onto the classpath, and two of them make logback print its status on stdout.
    if (System.getProperty(LOGBACK_CONFIG) == null) {
      System.setProperty(LOGBACK_CONFIG, "meridianctl-logback.xml");
    }
    System.exit(
        run(
            System.getenv(),
            System.in,
            System.console() != null,
            new PrintWriter(System.out, true),
            new PrintWriter(System.err, true),
            args));
  }

  /**
   * Runs one command line in this JVM, reading standard input, as {@code bin/meridianctl} would
   * with environment {@code env}; returns its exit code (benchmarks and tests drive it so).
   */
  public static int run(Map<String, String> env, PrintWriter out, PrintWriter err, String... args) {
    return run(env, System.in, out, err, args);
  }

  /** Runs one command line that reads {@code in} (e.g. {@code kv txn}); returns its exit code. */
  static int run(
      Map<String, String> env, InputStream in, PrintWriter out, PrintWriter err, String... args) {
    return run(env, in, false, out, err, args);
  }

  /**
   * Runs one command line; {@code terminal}: standard error is a terminal, where progress lines
   * update in place.
   */
  static int run(
      Map<String, String> env,
      InputStream in,
      boolean terminal,
      PrintWriter out,
      PrintWriter err,
      String... args) {
    Meridianctl root = new Meridianctl(env);
    root.in = in;
    root.terminal = terminal;
    try {
      return new CommandLine(root)
          .setOut(out)
          .setErr(err)
          .setCaseInsensitiveEnumValuesAllowed(true)
          .setExecutionExceptionHandler(
              (e, line, parsed) -> {
                if (e instanceof CommandLine.ParameterException usage) {
                  line.getErr().println("Error: " + usage.getMessage());
                  return USAGE;
                }
                Throwable cause = MeridianException.causeOf(e);
                line.getErr()
                    .println(
                        cause instanceof MeridianException m
                            ? "Error: " + m.code() + ": " + m.getMessage()
                            : "Error: " + cause.getMessage());
                return FAILED;
              })
          .execute(args);
    } finally {
      root.close();
    }
  }

  /** The client of the endpoints this command line names, made on first use. */
  MeridianClient client() {
    if (client == null) {
      MeridianClient.Builder b =
          MeridianClient.builder()
              .endpoints(endpoints())
              .requestTimeout(timeout)
              .name("meridianctl");
      if (tls() != null) {
        b.tls(tls());
      }
      if (shard != null) {
        if (shard < 0 || shard > LeaseId.MAX_SHARD) {
          throw new CommandLine.ParameterException(
              spec.commandLine(),
              "--shard: " + shard + " (expected: 0.." + LeaseId.MAX_SHARD + ")");
        }
        b.shard(shard);
      }
      client = b.build();
    }
    return client;
  }

  /**
   * The endpoints to call: {@code --endpoints}, else {@code $MERIDIAN_ENDPOINTS}, else the routers
   * of the running dev federation.
   *
   * @throws CommandLine.ParameterException when none of them names any
   */
  List<String> endpoints() {
    List<String> urls = endpoints;
    if (urls == null || urls.isEmpty()) {
      String fromEnv = environment.get(ENDPOINTS_ENV);
      urls = fromEnv == null ? List.of() : Arrays.asList(fromEnv.split(","));
    }
    urls = urls.stream().map(String::trim).filter(u -> !u.isEmpty()).toList();
    if (urls.isEmpty()) {
      urls = devRouters(DevPointer.file(environment));
    }
    if (urls.isEmpty()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--endpoints: none given and no `bin/meridian dev` running (expected: --endpoints"
              + " http://host:port,... or $"
              + ENDPOINTS_ENV
              + ")");
    }
    return urls;
  }

  /** The shard {@code --shard} names, or null. */
  Integer shard() {
    return shard;
  }

  /** How long one command may take ({@code --timeout}). */
  Duration timeout() {
    return timeout;
  }

  /** The router URLs in the topology of the running {@code bin/meridian dev}, if any. */
  private static List<String> devRouters(Path pointer) {
    Optional<Path> topology = DevPointer.read(pointer);
    if (topology.isEmpty() || !Files.isRegularFile(topology.get())) {
      return List.of();
    }
    try {
      List<String> urls = new ArrayList<>();
      for (JsonNode p : new ObjectMapper().readTree(topology.get().toFile()).path("processes")) {
        if ("router".equals(p.path("kind").asText())) {
          urls.add(p.path("client_url").asText());
        }
      }
      return urls;
    } catch (IOException e) {
      return List.of();
    }
  }

  /** The Kafka bootstrap servers of the running {@code bin/meridian dev}, if any. */
  Optional<String> devKafka() {
    Optional<Path> topology = DevPointer.read(DevPointer.file(environment));
    if (topology.isEmpty() || !Files.isRegularFile(topology.get())) {
      return Optional.empty();
    }
    try {
      for (JsonNode p : new ObjectMapper().readTree(topology.get().toFile()).path("processes")) {
        if ("kafka".equals(p.path("kind").asText())) {
          return Optional.of(p.path("bootstrap_servers").asText());
        }
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  /** Whether standard error is a terminal (progress lines update in place). */
  boolean terminal() {
    return terminal;
  }

  /** What commands that read input ({@code kv txn}) read when given no file. */
  InputStream in() {
    return in;
  }

  Output output(PrintWriter out) {
    return new Output(output, out);
  }

  /**
   * The connections every call of this command line makes outside {@link #client()}: TLS as {@code
   * --cacert}, {@code --cert} and {@code --key} say, else Armeria's defaults.
   */
  ClientFactory factory() {
    if (factory == null) {
      TlsFiles files = tls();
      factory =
          files == null
              ? ClientFactory.ofDefault()
              : ClientFactory.builder().tlsProvider(files).build();
    }
    return factory;
  }

  /** The TLS material the flags (or their variables) name, null if none. */
  private TlsFiles tls() {
    if (!tlsRead) {
      tlsRead = true;
      Path ca = cacert != null ? cacert : fromEnv(CACERT_ENV);
      Path c = cert != null ? cert : fromEnv(CERT_ENV);
      Path k = key != null ? key : fromEnv(KEY_ENV);
      if ((c == null) != (k == null)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            (c == null ? "--key" : "--cert")
                + " given alone (expected: --cert FILE --key FILE, the certificate and its key)");
      }
      if (ca != null || c != null) {
        try {
          tls = TlsFiles.load(c, k, ca);
        } catch (IllegalArgumentException e) {
          throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
      }
    }
    return tls;
  }

  private Path fromEnv(String name) {
    String v = environment.get(name);
    return v == null || v.isBlank() ? null : Path.of(v.trim());
  }

  private void close() {
    if (client != null) {
      client.close();
    }
    if (factory != null && factory != ClientFactory.ofDefault()) {
      factory.close();
    }
  }

  /** The version of this build. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"meridianctl " + io.meridian.api.Version.current()};
    }
  }
}
