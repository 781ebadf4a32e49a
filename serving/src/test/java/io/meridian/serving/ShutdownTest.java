package io.meridian.serving;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.serving.config.ConfigException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** How a role's command refuses a configuration: exit code 2 and one line on stderr. */
class ShutdownTest {
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream stderr;

  @BeforeEach
  void captureStderr() {
    stderr = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void restoreStderr() {
    System.setErr(stderr);
  }

  @Test
  void aFileTheRoleRefusesExitsWith2AndNamesTheKey() throws Exception {
    AtomicBoolean started = new AtomicBoolean();
    int code =
        Shutdown.serve(
            Path.of("node.yaml"),
            file -> {
              throw new ConfigException(
                  file.toString(), "lease.min-ttl-seconds", "0 (expected: >= 1)");
            },
            config -> {
              started.set(true);
              return () -> {};
            },
            running -> "started");
    assertThat(code).isEqualTo(2);
    assertThat(started).isFalse();
    assertThat(err.toString(StandardCharsets.UTF_8))
        .isEqualTo("node.yaml: lease.min-ttl-seconds: 0 (expected: >= 1)" + System.lineSeparator());
  }

  @Test
  void aConfigurationRefusedAtStartExitsWith2AndNamesTheFile() throws Exception {
    int code =
        Shutdown.serve(
            Path.of("router.yaml"),
            file -> "loaded",
            config -> {
              throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "table: cannot read");
            },
            running -> "started");
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .isEqualTo("router.yaml: table: cannot read" + System.lineSeparator());
  }
}
