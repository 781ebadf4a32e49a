package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.DevPointer;
import io.meridian.testing.LocalRegion;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl role set} against a real 3-member region: confirmation, epochs, fencing. */
@Tag("cluster")
class MeridianctlRoleTest {
  @TempDir Path dir;

  @Test
  void roleChangesAreConfirmedMoveEpochsForwardAndFenceWrites() throws Exception {
    try (LocalRegion region = LocalRegion.builder(dir).start()) {
      region.awaitReady();
      String endpoints = String.join(",", region.urls());

      CtlRun unattended = CtlRun.ctl(endpoints, "role", "set", "FENCED", "--epoch", "2");
      assertThat(unattended.code()).isEqualTo(2);
      assertThat(unattended.err()).contains("--yes: not given, and there is no terminal");

      // On a terminal, anything but "yes" changes nothing.
      StringWriter err = new StringWriter();
      int declined =
          Meridianctl.run(
              Map.of(
                  Meridianctl.ENDPOINTS_ENV,
                  endpoints,
                  DevPointer.ENV,
                  dir.resolve("none").toString()),
              new ByteArrayInputStream("no\n".getBytes(StandardCharsets.UTF_8)),
              true,
              new PrintWriter(new StringWriter(), true),
              new PrintWriter(err, true),
              "role",
              "set",
              "FENCED",
              "--epoch",
              "2");
      assertThat(declined).isEqualTo(1);
      assertThat(err.toString())
          .contains("set shard 0 in ")
          .contains("Type 'yes'")
          .contains("FAILED_PRECONDITION: not confirmed");
      assertThat(CtlRun.ctl(endpoints, "kv", "put", "/r/k", "1").code()).isZero();

      CtlRun fenced = CtlRun.ctl(endpoints, "role", "set", "FENCED", "--epoch", "2", "--yes");
      assertThat(fenced.code()).as(fenced.err()).isZero();
      assertThat(fenced.out()).contains("FENCED").contains(" 2 ");
      CtlRun refusedWrite = CtlRun.ctl(endpoints, "kv", "put", "/r/k", "2");
      assertThat(refusedWrite.code()).isEqualTo(1);
      assertThat(refusedWrite.err()).startsWith("Error: FENCED");

      CtlRun sameEpoch = CtlRun.ctl(endpoints, "role", "set", "PRIMARY", "--epoch", "2", "--yes");
      assertThat(sameEpoch.code()).isEqualTo(1);
      assertThat(sameEpoch.err()).contains("INVALID_ARGUMENT").contains("starts a new epoch");
      CtlRun older = CtlRun.ctl(endpoints, "role", "set", "STANDBY", "--epoch", "1", "--yes");
      assertThat(older.code()).isEqualTo(1);
      assertThat(older.err()).startsWith("Error: FENCED");
      CtlRun badRole = CtlRun.ctl(endpoints, "role", "set", "LEADER", "--epoch", "3", "--yes");
      assertThat(badRole.code()).isEqualTo(2);

      CtlRun promoted = CtlRun.ctl(endpoints, "role", "set", "PRIMARY", "--epoch", "3", "--yes");
      assertThat(promoted.code()).as(promoted.err()).isZero();
      CtlRun write = CtlRun.ctl(endpoints, "kv", "put", "/r/k", "3", "-o", "json");
      assertThat(write.code()).as(write.err()).isZero();
      assertThat(write.out()).contains("\"epoch\": \"3\"");
    }
  }
}
