package io.meridian.distribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Terraform under {@code terraform/}: every module and example formatted, valid and passing its
 * own {@code terraform test}, offline (the AWS provider from a filesystem mirror); and the configs
 * the topology module renders start a real three-node cluster and a router from the release
 * archive. Without Terraform (or, for the AWS modules, without the mirror) the checks are reported
 * skipped with one loud line saying what is missing; they never pass silently.
 */
class TerraformIT {
  private static final Path SOURCE = Path.of("..", "terraform").toAbsolutePath().normalize();

  /** The AWS provider version the modules pin and the mirror carries. */
  private static final String AWS = "hashicorp/aws/5.100.0";

  @TempDir Path dir;

  @Test
  void everyModuleAndExampleIsFormattedValidAndPassesItsTests() throws Exception {
    Path terraform = terraformOrSkip();
    Optional<Path> mirror = awsMirror();
    // A copy: init writes .terraform and lock files, which stay out of the source tree.
    Path tree = copy(SOURCE, dir.resolve("terraform"));
    Map<String, String> env = cliConfig(mirror);

    Result fmt = exec(tree, env, terraform.toString(), "fmt", "-check", "-recursive", "-diff");
    assertThat(fmt.code()).as("terraform fmt -check -recursive:\n" + fmt.out()).isZero();

    List<String> skipped = new ArrayList<>();
    List<Path> roots = new ArrayList<>();
    for (String kind : List.of("modules", "examples")) {
      if (Files.isDirectory(tree.resolve(kind))) {
        try (Stream<Path> all = Files.list(tree.resolve(kind))) {
          all.filter(Files::isDirectory).sorted().forEach(roots::add);
        }
      }
    }
    assertThat(roots).as("terraform/modules and terraform/examples").isNotEmpty();
    // One at a time: most of the time goes to starting the AWS provider (CPU work), once per run.
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      List<Future<?>> checks = new ArrayList<>();
      for (Path root : roots) {
        String name = tree.relativize(root).toString();
        if (usesAws(root) && mirror.isEmpty()) {
          skipped.add(name);
          continue;
        }
        checks.add(pool.submit(() -> check(terraform, root, name, env)));
      }
      for (Future<?> check : checks) {
        try {
          check.get(10, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
          if (e.getCause() instanceof AssertionError a) {
            throw a;
          }
          throw e;
        }
      }
    } finally {
      pool.shutdownNow();
    }
    if (!skipped.isEmpty()) {
      String why =
          "SKIPPED: no filesystem mirror of the AWS provider ("
              + AWS
              + ") on this machine: terraform init, validate and test did not run for "
              + skipped;
      System.out.println(why);
      Assumptions.abort(why);
    }
  }

  @Test
  @Tag("cluster")
  void theConfigsTheTopologyRendersStartAClusterAndARouter() throws Exception {
    Path terraform = terraformOrSkip();
    int base = freeRange(20);
    Path render = Files.createDirectories(dir.resolve("render"));
    Path data = dir.resolve("data");
    Files.writeString(
        render.resolve("main.tf"),
        String.join(
            "\n",
            "module \"topology\" {",
            "  source       = \"" + SOURCE.resolve("modules/topology") + "\"",
            "  regions      = [\"local\"]",
            "  shards       = 1",
            "  voters       = 3",
            "  bind_address = \"127.0.0.1\"",
            "  port_stride  = 2",
            "  ports        = { client = "
                + base
                + ", peer = "
                + (base + 1)
                + ", router = "
                + (base + 10)
                + ", bridge = "
                + (base + 11)
                + " }",
            "  data_dir     = \"" + data + "\"",
            "  backup_dir   = \"\"",
            "  hosts = {",
            "    \"local/0/n1\" = \"127.0.0.1\"",
            "    \"local/0/n2\" = \"127.0.0.1\"",
            "    \"local/0/n3\" = \"127.0.0.1\"",
            "    \"local/router\" = \"127.0.0.1\"",
            "  }",
            "}",
            "output \"node_configs\" { value = module.topology.node_configs }",
            "output \"router_configs\" { value = module.topology.router_configs }",
            "output \"routing_table\" { value = module.topology.routing_table }",
            "output \"routers\" { value = module.topology.routers }",
            "output \"nodes\" { value = module.topology.nodes }",
            ""));
    Map<String, String> env = cliConfig(Optional.empty());
    String tf = terraform.toString();
    assertThat(exec(render, env, tf, "init", "-backend=false", "-input=false").code()).isZero();
    Result apply = exec(render, env, tf, "apply", "-auto-approve", "-input=false", "-no-color");
    assertThat(apply.code()).as(apply.out()).isZero();
    Result output = exec(render, env, tf, "output", "-json");
    assertThat(output.code()).as(output.out()).isZero();
    JsonNode out = new ObjectMapper().readTree(output.out());

    Path etc = Files.createDirectories(dir.resolve("etc"));
    Files.writeString(etc.resolve("routing-table.yaml"), out.at("/routing_table/value").asText());
    Files.writeString(etc.resolve("router.yaml"), out.at("/router_configs/value/local").asText());
    try (Installed m = Installed.unpack(dir)) {
      List<String> members = List.of("n1", "n2", "n3");
      for (String member : members) {
        Path config = etc.resolve(member + ".yaml");
        Files.writeString(config, out.at("/node_configs/value/local~10~1" + member).asText());
        m.start(member, "bin/meridian", "node", "--config", config.toString());
      }
      m.start(
          "router", "bin/meridian", "router", "--config", etc.resolve("router.yaml").toString());
      for (String member : members) {
        int port = out.at("/nodes/value/local~10~1" + member + "/client_port").asInt();
        await()
            .atMost(ReleaseArchiveIT.START)
            .ignoreExceptions()
            .until(() -> Installed.healthy("http://127.0.0.1:" + port));
      }
      String router = "http://127.0.0.1:" + out.at("/routers/value/local/port").asInt();
      await()
          .atMost(ReleaseArchiveIT.START)
          .ignoreExceptions()
          .until(() -> Installed.healthy(router));
      await()
          .atMost(ReleaseArchiveIT.START)
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(m.run("bin/meridianctl", "--endpoints", router, "status"))
                      .startsWith("SHARD")
                      .contains("local", "PRIMARY", "HEALTHY"));
      assertThat(m.run("bin/meridianctl", "--endpoints", router, "kv", "put", "/tf/k", "v"))
          .contains("/tf/k");
    }
  }

  /** init, validate and (where the root has tests) test of one module or example. */
  private Void check(Path terraform, Path root, String name, Map<String, String> env)
      throws Exception {
    Result init = exec(root, env, terraform.toString(), "init", "-backend=false", "-input=false");
    assertThat(init.code()).as(name + ": terraform init:\n" + init.out()).isZero();
    Result validate = exec(root, env, terraform.toString(), "validate", "-no-color");
    assertThat(validate.code()).as(name + ": terraform validate:\n" + validate.out()).isZero();
    if (Files.isDirectory(root.resolve("tests"))) {
      Result test = exec(root, env, terraform.toString(), "test", "-no-color");
      assertThat(test.code()).as(name + ": terraform test:\n" + test.out()).isZero();
      assertThat(test.out()).as(name).contains("Success!").doesNotContain(" 0 passed");
    }
    return null;
  }

  private static Path terraformOrSkip() {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin").split(":")) {
      Path t = Path.of(d, "terraform");
      if (Files.isExecutable(t)) {
        return t;
      }
    }
    String why = "SKIPPED: terraform not found on the PATH: the Terraform checks did not run";
    System.out.println(why);
    Assumptions.abort(why);
    throw new AssertionError("unreachable");
  }

  /** The root of a filesystem mirror holding registry.terraform.io/{@value #AWS}, if any. */
  private static Optional<Path> awsMirror() throws IOException {
    String home = System.getProperty("user.home");
    for (String root : List.of("/opt", "/usr/local/share", "/usr/share", home + "/.terraform.d")) {
      Path r = Path.of(root);
      if (!Files.isDirectory(r)) {
        continue;
      }
      try (Stream<Path> found =
          Files.find(
              r,
              6,
              (p, a) -> a.isDirectory() && p.endsWith("registry.terraform.io/" + AWS),
              java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
        Optional<Path> hit = found.findFirst();
        if (hit.isPresent()) {
          return Optional.of(hit.get().getParent().getParent().getParent().getParent());
        }
      } catch (java.io.UncheckedIOException e) {
        // An unreadable directory on the way: look in the next root.
      }
    }
    return Optional.empty();
  }

  /** A CLI config that takes hashicorp's providers from {@code mirror} only (never the network). */
  private Map<String, String> cliConfig(Optional<Path> mirror) throws IOException {
    Path file = dir.resolve("terraform.rc");
    String installation =
        mirror
            .map(
                m ->
                    "provider_installation {\n"
                        + "  filesystem_mirror {\n"
                        + "    path    = \""
                        + m
                        + "\"\n"
                        + "    include = [\"registry.terraform.io/hashicorp/*\"]\n"
                        + "  }\n"
                        + "}\n")
            .orElse("");
    Files.writeString(file, installation);
    return Map.of(
        "TF_CLI_CONFIG_FILE",
        file.toString(),
        "TF_IN_AUTOMATION",
        "1",
        "CHECKPOINT_DISABLE",
        "1",
        "TF_DATA_DIR",
        ".terraform");
  }

  private static boolean usesAws(Path module) throws IOException {
    try (Stream<Path> files = Files.walk(module)) {
      return files
          .filter(p -> p.toString().endsWith(".tf") || p.toString().endsWith(".tftest.hcl"))
          .anyMatch(
              p -> {
                try {
                  return Files.readString(p).contains("hashicorp/aws")
                      || Files.readString(p).contains("mock_provider \"aws\"");
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
    }
  }

  private record Result(int code, String out) {}

  private Result exec(Path cwd, Map<String, String> env, String... command) throws Exception {
    Path out = Files.createTempFile(dir, "tf", ".txt");
    ProcessBuilder b =
        new ProcessBuilder(command)
            .directory(cwd.toFile())
            .redirectErrorStream(true)
            .redirectOutput(out.toFile());
    b.environment().putAll(env);
    Process p = b.start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " did not end within 5 minutes");
    }
    return new Result(p.exitValue(), Files.readString(out));
  }

  /** A base port with {@code count} free loopback ports after it, below the ephemeral range. */
  private static int freeRange(int count) throws IOException {
    Random random = new Random();
    for (int attempt = 0; attempt < 100; attempt++) {
      int base = 20_000 + random.nextInt(10_000);
      if (allFree(base, count)) {
        return base;
      }
    }
    throw new IOException("no " + count + " free loopback ports in a row between 20000 and 30020");
  }

  private static boolean allFree(int base, int count) {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    for (int port = base; port < base + count; port++) {
      try (ServerSocket s = new ServerSocket(port, 1, loopback)) {
        s.setReuseAddress(true);
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  private static Path copy(Path from, Path to) throws IOException {
    Files.walkFileTree(
        from,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a)
              throws IOException {
            if (d.getFileName().toString().equals(".terraform")) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            Files.createDirectories(to.resolve(from.relativize(d).toString()));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
            Files.copy(
                f, to.resolve(from.relativize(f).toString()), StandardCopyOption.REPLACE_EXISTING);
            return FileVisitResult.CONTINUE;
          }
        });
    return to;
  }
}
