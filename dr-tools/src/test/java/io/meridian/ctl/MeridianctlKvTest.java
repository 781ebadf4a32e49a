package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import io.meridian.api.DevPointer;
import io.meridian.api.v1.RangeResponse;
import io.meridian.testing.LocalRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl kv} against a real 3-member region. */
@Tag("cluster")
class MeridianctlKvTest {
  @TempDir static Path dir;
  static LocalRegion region;
  static String endpoints;

  @BeforeAll
  static void start() throws Exception {
    region = LocalRegion.builder(dir.resolve("region")).start();
    region.awaitReady();
    endpoints = String.join(",", region.urls());
  }

  @AfterAll
  static void stop() {
    region.close();
  }

  static CtlRun ctl(String... args) {
    return CtlRun.ctl(endpoints, args);
  }

  @Test
  void putThenGetPrintsTheValueAsText() {
    CtlRun put = ctl("kv", "put", "/ctl/greeting", "hello world");
    assertThat(put.code()).as(put.err()).isZero();
    assertThat(put.out()).startsWith("KEY").contains("/ctl/greeting");

    CtlRun get = ctl("kv", "get", "/ctl/greeting");
    assertThat(get.code()).as(get.err()).isZero();
    assertThat(get.out().lines()).hasSize(2);
    assertThat(get.out().lines().skip(1).findFirst().orElseThrow())
        .startsWith("/ctl/greeting")
        .contains("hello world");
  }

  @Test
  void jsonOutputParsesBackIntoTheResponse() throws Exception {
    assertThat(ctl("kv", "put", "/ctl/json/a", "1").code()).isZero();
    assertThat(ctl("kv", "put", "/ctl/json/b", "2").code()).isZero();
    CtlRun get = ctl("kv", "get", "/ctl/json/", "--prefix", "-o", "json");
    assertThat(get.code()).as(get.err()).isZero();
    RangeResponse.Builder parsed = RangeResponse.newBuilder();
    JsonFormat.parser().merge(get.out(), parsed);
    assertThat(parsed.getKvsList())
        .extracting(kv -> kv.getKey() + "=" + kv.getValue().toStringUtf8())
        .containsExactly("/ctl/json/a=1", "/ctl/json/b=2");
    // Every field is present for scripts, even at its default.
    assertThat(get.out()).contains("\"more\": false");

    CtlRun yaml = ctl("kv", "get", "/ctl/json/a", "-o", "yaml");
    assertThat(yaml.code()).isZero();
    assertThat(yaml.out()).contains("key: /ctl/json/a");
  }

  @Test
  void aValueThatIsNotTextIsPrintedAsMarkedBase64(@TempDir Path files) throws Exception {
    Path bin = files.resolve("value.bin");
    Files.write(bin, new byte[] {0, (byte) 0xff, 7});
    assertThat(ctl("kv", "put", "/ctl/bin", "--file", bin.toString()).code()).isZero();
    CtlRun get = ctl("kv", "get", "/ctl/bin");
    assertThat(get.out()).contains(Output.BASE64_MARK + "AP8H");
    assertThat(Output.text(ByteString.copyFromUtf8("plain"))).isEqualTo("plain");
  }

  @Test
  void keysOnlyAndDeleteByPrefix() {
    ctl("kv", "put", "/ctl/del/x", "1");
    ctl("kv", "put", "/ctl/del/y", "2");
    CtlRun keys = ctl("kv", "get", "/ctl/del/", "--prefix", "--keys-only");
    assertThat(keys.out().lines()).containsExactly("KEY", "/ctl/del/x", "/ctl/del/y");
    CtlRun del = ctl("kv", "del", "/ctl/del/", "--prefix");
    assertThat(del.code()).as(del.err()).isZero();
    assertThat(del.out().lines().skip(1).findFirst().orElseThrow()).startsWith("2 ");
    assertThat(ctl("kv", "get", "/ctl/del/", "--prefix", "--keys-only").out().lines())
        .containsExactly("KEY");
  }

  @Test
  void aRefusedRequestExitsWith1AndSaysWhy() {
    CtlRun bad = ctl("kv", "put", "no-namespace", "v");
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err()).startsWith("Error: INVALID_ARGUMENT: ").doesNotContain("Exception");
  }

  @Test
  void usageErrorsExitWith2AndNameTheOption() {
    CtlRun noValue = ctl("kv", "put", "/ctl/k");
    assertThat(noValue.code()).isEqualTo(2);
    assertThat(noValue.err()).contains("VALUE or --file");

    CtlRun badLevel = ctl("kv", "get", "/ctl/k", "--consistency", "EVENTUAL");
    assertThat(badLevel.code()).isEqualTo(2);
    assertThat(badLevel.err()).contains("--consistency: EVENTUAL (expected: LINEARIZABLE");

    CtlRun badTimeout = ctl("kv", "get", "/ctl/k", "--timeout", "soon");
    assertThat(badTimeout.code()).isEqualTo(2);
    assertThat(badTimeout.err()).contains("--timeout").contains("500ms");

    CtlRun badFormat = ctl("kv", "get", "/ctl/k", "-o", "xml");
    assertThat(badFormat.code()).isEqualTo(2);
    assertThat(badFormat.err()).contains("xml");

    CtlRun unknown = ctl("kv", "frobnicate");
    assertThat(unknown.code()).isEqualTo(2);
  }

  @Test
  void endpointsComeFromTheFlagOrTheEnvironmentAndAreRequired() {
    // Neither endpoints nor a dev federation to fall back on.
    CtlRun none = CtlRun.run("kv", "get", "/ctl/k");
    assertThat(none.code()).isEqualTo(2);
    assertThat(none.err()).contains("--endpoints").contains(Meridianctl.ENDPOINTS_ENV);

    CtlRun flag = CtlRun.run("--endpoints", endpoints, "kv", "get", "/ctl/k");
    assertThat(flag.code()).as(flag.err()).isZero();
  }

  @Test
  void withoutEndpointsTheRunningDevFederationsRoutersAreCalled() throws Exception {
    // What bin/meridian dev writes: its topology, and the pointer to it.
    Path topology = dir.resolve("dev").resolve("topology.json");
    Files.createDirectories(topology.getParent());
    StringBuilder processes = new StringBuilder();
    for (String url : region.urls()) {
      processes.append(processes.length() == 0 ? "" : ",");
      processes.append("{\"kind\":\"router\",\"client_url\":\"").append(url).append("\"}");
    }
    Files.writeString(topology, "{\"processes\":[" + processes + "]}");
    Path pointer = dir.resolve("dev.topology");
    DevPointer.write(pointer, topology);

    CtlRun put =
        CtlRun.run(Map.of(DevPointer.ENV, pointer.toString()), "kv", "put", "/ctl/dev", "found");
    assertThat(put.code()).as(put.err()).isZero();
    assertThat(ctl("kv", "get", "/ctl/dev").out()).contains("found");

    DevPointer.clear(pointer, topology);
    assertThat(pointer).doesNotExist();
  }

  @Test
  void helpAndVersion() {
    CtlRun help = CtlRun.run("--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("kv").contains("Exit codes:");
    CtlRun kvHelp = CtlRun.run("kv", "get", "--help");
    assertThat(kvHelp.code()).isZero();
    assertThat(kvHelp.out()).contains("--prefix").contains("--consistency");
    CtlRun version = CtlRun.run("--version");
    assertThat(version.code()).isZero();
    assertThat(version.out()).startsWith("meridianctl ").doesNotContain("unknown");
  }
}
