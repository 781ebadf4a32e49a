package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.JsonFormat;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockOwner;
import io.meridian.client.MeridianClient;
import io.meridian.testing.LocalRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl lock} against a real 3-member region, running real commands. */
@Tag("cluster")
class MeridianctlLockTest {
  @TempDir static Path dir;
  static LocalRegion region;
  static String endpoints;
  static MeridianClient client;

  @BeforeAll
  static void start() throws Exception {
    // Short lock leases (3 s) notice a revoked lease within a second.
    region = LocalRegion.builder(dir.resolve("region")).set("lease", "min-ttl-seconds", 1).start();
    region.awaitReady();
    endpoints = String.join(",", region.urls());
    client = MeridianClient.builder().endpoints(region.urls()).build();
  }

  @AfterAll
  static void stop() {
    client.close();
    region.close();
  }

  static CtlRun ctl(String... args) {
    return CtlRun.ctl(endpoints, args);
  }

  static LockInspectResponse inspect(String name) throws Exception {
    CtlRun inspect = ctl("lock", "inspect", name, "-o", "json");
    assertThat(inspect.code()).as(inspect.err()).isZero();
    LockInspectResponse.Builder parsed = LockInspectResponse.newBuilder();
    JsonFormat.parser().merge(inspect.out(), parsed);
    return parsed.build();
  }

  /** The fencing token in a {@code lock} table (NAME, FENCING_TOKEN, LEASE). */
  static long token(String out) {
    return Long.parseLong(out.lines().skip(1).findFirst().orElseThrow().split("\\s+")[1]);
  }

  @Test
  void commandSeesTheTokenAndTheLockIsReleasedAfterIt() throws Exception {
    CtlRun run =
        ctl(
            "lock",
            "/ctl-lock/echo",
            "--",
            "sh",
            "-c",
            "echo token=$MERIDIAN_LOCK_TOKEN name=$MERIDIAN_LOCK_NAME; echo to-stderr >&2");
    assertThat(run.code()).as(run.err()).isZero();
    List<String> lines = run.out().lines().toList();
    assertThat(lines.get(0)).startsWith("NAME").contains("FENCING_TOKEN").contains("LEASE");
    long token = token(run.out());
    assertThat(token).isPositive();
    assertThat(lines.get(2)).isEqualTo("token=" + token + " name=/ctl-lock/echo");
    assertThat(run.err()).isEqualTo("to-stderr\n");
    assertThat(inspect("/ctl-lock/echo").getHoldersList()).isEmpty();

    // The next holder gets a larger token.
    CtlRun again = ctl("lock", "/ctl-lock/echo", "--", "true");
    assertThat(again.code()).as(again.err()).isZero();
    assertThat(token(again.out())).isGreaterThan(token);
  }

  @Test
  void theExitCodeIsTheCommands() throws Exception {
    CtlRun seven = ctl("lock", "/ctl-lock/exit", "--", "sh", "-c", "exit 7");
    assertThat(seven.code()).as(seven.err()).isEqualTo(7);

    CtlRun json = ctl("lock", "/ctl-lock/exit", "-o", "json", "--", "true");
    assertThat(json.code()).as(json.err()).isZero();
    LockAcquireResponse.Builder parsed = LockAcquireResponse.newBuilder();
    JsonFormat.parser().merge(json.out(), parsed);
    assertThat(parsed.getName()).isEqualTo("/ctl-lock/exit");
    assertThat(parsed.getFencingToken()).isPositive();
    assertThat(parsed.getLease()).isNotZero();

    CtlRun missing = ctl("lock", "/ctl-lock/exit", "--", "/nonexistent/program");
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.err()).startsWith("Error: ").contains("/nonexistent/program");
    assertThat(inspect("/ctl-lock/exit").getHoldersList()).isEmpty();
  }

  @Test
  void losingTheLockStopsTheCommand(@TempDir Path files) throws Exception {
    Path pidFile = files.resolve("pid");
    try (CtlRun.Background lock =
        CtlRun.background(
            endpoints,
            "lock",
            "/ctl-lock/lost",
            "--ttl",
            "3s",
            "--",
            "sh",
            "-c",
            "echo $$ > "
                + pidFile
                + ".tmp && mv "
                + pidFile
                + ".tmp "
                + pidFile
                + "; exec sleep 60")) {
      await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(pidFile) || lock.isDone());
      assertThat(lock.isDone()).as(lock.err()).isFalse();
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      assertThat(ProcessHandle.of(pid)).hasValueSatisfying(p -> assertThat(p.isAlive()).isTrue());

      LockInspectResponse held = inspect("/ctl-lock/lost");
      assertThat(held.getHoldersList()).hasSize(1);
      LockOwner holder = held.getHolders(0);
      assertThat(holder.getFencingToken()).isEqualTo(token(lock.out()));
      client.leases().revoke(holder.getLease());

      await().atMost(Duration.ofSeconds(30)).until(lock::isDone);
      assertThat(lock.code()).isEqualTo(1);
      assertThat(lock.err())
          .startsWith("Error: LOCK_NOT_HELD: lock /ctl-lock/lost: lost with its lease ")
          .contains("stopping COMMAND (pid " + pid + ")");
      assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
    }
  }

  /** The shutdown hook, in a real meridianctl process: SIGTERM stops COMMAND, then releases. */
  @Test
  void sigtermStopsTheCommandAndReleasesTheLock(@TempDir Path files) throws Exception {
    Path pidFile = files.resolve("pid");
    Process ctl =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Meridianctl.class.getName(),
                "--endpoints",
                endpoints,
                "lock",
                "/ctl-lock/term",
                "--",
                "sh",
                "-c",
                writePidThenSleep(pidFile))
            .redirectOutput(files.resolve("out").toFile())
            .redirectError(files.resolve("err").toFile())
            .start();
    try {
      await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(pidFile) || !ctl.isAlive());
      assertThat(ctl.isAlive()).as(() -> read(files.resolve("err"))).isTrue();
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      assertThat(inspect("/ctl-lock/term").getHoldersList()).hasSize(1);

      ctl.destroy();
      assertThat(ctl.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
      assertThat(inspect("/ctl-lock/term").getHoldersList()).isEmpty();
    } finally {
      ctl.destroyForcibly();
    }
  }

  /** A shell script that writes its pid to {@code pidFile} whole, then becomes {@code sleep}. */
  static String writePidThenSleep(Path pidFile) {
    return "echo $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "; exec sleep 60";
  }

  static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

  @Test
  void withoutCommandTheLockIsHeldUntilLost() throws Exception {
    try (CtlRun.Background lock =
        CtlRun.background(endpoints, "lock", "/ctl-lock/hold", "--ttl", "3s")) {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> lock.out().lines().count() >= 2 || lock.isDone());
      assertThat(lock.isDone()).as(lock.err()).isFalse();
      long token = token(lock.out());

      CtlRun table = ctl("lock", "inspect", "/ctl-lock/hold");
      assertThat(table.code()).as(table.err()).isZero();
      assertThat(table.out().lines().skip(1).findFirst().orElseThrow())
          .startsWith("holder")
          .contains(" EXCLUSIVE ")
          .contains(" " + token + " ");

      // A second holder waits its --wait, then gives up.
      CtlRun second = ctl("lock", "/ctl-lock/hold", "--wait", "1s", "--", "true");
      assertThat(second.code()).isEqualTo(1);
      assertThat(second.err()).startsWith("Error: LOCK_TIMEOUT: ");

      client.leases().revoke(inspect("/ctl-lock/hold").getHolders(0).getLease());
      await().atMost(Duration.ofSeconds(30)).until(lock::isDone);
      assertThat(lock.code()).isEqualTo(1);
      assertThat(lock.err()).startsWith("Error: LOCK_NOT_HELD: lock /ctl-lock/hold: lost");
    }
  }

  @Test
  void badInputExits2AndRefusedNamesExit1() {
    CtlRun noName = ctl("lock");
    assertThat(noName.code()).isEqualTo(2);
    assertThat(noName.err()).contains("NAME");

    CtlRun badTtl = ctl("lock", "/ctl-lock/x", "--ttl", "soon", "--", "true");
    assertThat(badTtl.code()).isEqualTo(2);
    assertThat(badTtl.err()).contains("--ttl").contains("whole seconds");

    CtlRun noSlash = ctl("lock", "ctl-lock", "--", "true");
    assertThat(noSlash.code()).isEqualTo(1);
    assertThat(noSlash.err()).startsWith("Error: INVALID_ARGUMENT: ");

    // A namespace alone is no lock name: the member refuses it.
    CtlRun namespaceOnly = ctl("lock", "/ctl-lock", "--", "true");
    assertThat(namespaceOnly.code()).isEqualTo(1);
    assertThat(namespaceOnly.err()).startsWith("Error: INVALID_ARGUMENT: lock");

    CtlRun help = CtlRun.run("lock", "--help");
    assertThat(help.code()).isZero();
    assertThat(help.out())
        .contains("inspect")
        .contains(LockCommand.TOKEN_ENV)
        .contains("--ttl")
        .contains("--wait");
  }
}
