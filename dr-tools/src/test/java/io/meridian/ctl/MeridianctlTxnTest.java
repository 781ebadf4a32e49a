package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.api.v1.TxnResponse;
import io.meridian.client.MeridianClient;
import io.meridian.client.Stubs;
import io.meridian.testing.LocalRegion;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl kv txn} and {@code kv compact} against a real region with two shards. */
@Tag("cluster")
class MeridianctlTxnTest {
  @TempDir static Path dir;
  static LocalRegion region;
  static String endpoints;
  static MeridianClient client;

  @BeforeAll
  static void start() throws Exception {
    region =
        LocalRegion.builder(dir.resolve("region"))
            .shard(0, Role.PRIMARY)
            .shard(1, Role.PRIMARY)
            .start();
    region.awaitReady();
    endpoints = String.join(",", region.urls());
    // The members host two shards: every call names shard 0, as a router would.
    client = MeridianClient.builder().endpoints(region.urls()).shard(0).build();
  }

  @AfterAll
  static void stop() {
    client.close();
    region.close();
  }

  /**
   * Runs {@code args} against the region's shard 0 (unless they name a shard) with {@code stdin} as
   * standard input.
   */
  static CtlRun ctl(String stdin, String... args) {
    List<String> line = new ArrayList<>(List.of(args));
    if (!line.contains("--shard")) {
      line.addAll(List.of("--shard", "0"));
    }
    return CtlRun.ctl(
        endpoints,
        new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        line.toArray(String[]::new));
  }

  static String value(String key) {
    return client.kv().get(key).orElseThrow().getValue().toStringUtf8();
  }

  @Test
  void txnRunsTheSuccessOpsWhenEveryCompareHolds() {
    client.kv().put("/txn/a/k", ByteString.copyFromUtf8("v1"));
    CtlRun txn =
        ctl(
            """
            value("/txn/a/k") = "v1"
            version("/txn/a/k") > "0"

            put /txn/a/k "v 2"
            get /txn/a/k

            put /txn/a/k failed
            """,
            "kv",
            "txn");
    assertThat(txn.code()).as(txn.err()).isZero();
    assertThat(txn.out().lines().findFirst()).contains("SUCCEEDED");
    assertThat(txn.out()).contains("/txn/a/k").contains("v 2");
    assertThat(value("/txn/a/k")).isEqualTo("v 2");
  }

  @Test
  void txnRunsTheFailureOpsOtherwiseAndPrintsJson() throws Exception {
    client.kv().put("/txn/b/k", ByteString.copyFromUtf8("v1"));
    client.kv().put("/txn/b/other", ByteString.copyFromUtf8("x"));
    CtlRun txn =
        ctl(
            """
            mod("/txn/b/k") > "999999"

            put /txn/b/k never

            del /txn/b/other
            get /txn/b/ --prefix
            """,
            "kv",
            "txn",
            "-o",
            "json");
    assertThat(txn.code()).as(txn.err()).isZero();
    TxnResponse.Builder parsed = TxnResponse.newBuilder();
    JsonFormat.parser().merge(txn.out(), parsed);
    assertThat(parsed.getSucceeded()).isFalse();
    assertThat(parsed.getResponses(0).getResponseDeleteRange().getDeleted()).isEqualTo(1);
    assertThat(parsed.getResponses(1).getResponseRange().getKvsList())
        .extracting(kv -> kv.getKey())
        .containsExactly("/txn/b/k");
    assertThat(value("/txn/b/k")).isEqualTo("v1");

    CtlRun table = ctl("mod(\"/txn/b/k\") > \"999999\"\n\nput /txn/b/k never\n\n", "kv", "txn");
    assertThat(table.out().lines().findFirst()).contains("FAILED");
  }

  @Test
  void txnReadsAFileAndComparesALocksFencingToken(@TempDir Path files) throws Exception {
    Path script = files.resolve("txn.txt");
    // No one holds the lock, so no holder of token 7 does; a missing key was created at 0.
    Files.writeString(
        script,
        "lock(\"/txn/locks/report\") != \"7\"\ncreate(\"/txn/c/k\") = \"0\"\n\nput /txn/c/k v\n");
    CtlRun free = ctl("", "kv", "txn", "--file", script.toString());
    assertThat(free.code()).as(free.err()).isZero();
    assertThat(free.out().lines().findFirst()).contains("SUCCEEDED");
    assertThat(value("/txn/c/k")).isEqualTo("v");

    CtlRun held = ctl("lock(\"/txn/locks/report\") = \"7\"\n\nput /txn/c/k w\n", "kv", "txn");
    assertThat(held.out().lines().findFirst()).contains("FAILED");
    assertThat(value("/txn/c/k")).isEqualTo("v");
  }

  @Test
  void interactiveTxnPromptsForEachSectionOnStderr() {
    CtlRun txn = ctl("\nput /txn/d/k v\n\n\n", "kv", "txn", "-i");
    assertThat(txn.code()).as(txn.err()).isZero();
    assertThat(txn.err()).contains("compares").contains("success requests");
    assertThat(txn.out().lines().findFirst()).contains("SUCCEEDED");
    assertThat(value("/txn/d/k")).isEqualTo("v");
  }

  @Test
  void aTxnParseErrorExitsWith2AndNamesTheLine() {
    CtlRun badCompare = ctl("mod(\"/txn/e\") > \"1\"\nfoo(\"/txn/e\") = \"1\"\n", "kv", "txn");
    assertThat(badCompare.code()).isEqualTo(2);
    assertThat(badCompare.err()).contains("line 2: foo (expected: version, create, mod");

    CtlRun badNumber = ctl("mod(\"/txn/e\") > \"soon\"\n", "kv", "txn");
    assertThat(badNumber.code()).isEqualTo(2);
    assertThat(badNumber.err()).contains("line 1: mod: 'soon' (expected: a whole number)");

    CtlRun badOp = ctl("\nput /txn/e v\nfrob /txn/e\n", "kv", "txn");
    assertThat(badOp.code()).isEqualTo(2);
    assertThat(badOp.err()).contains("line 3: 'frob' (expected: an op: put, get or del");

    CtlRun badArity = ctl("\n\nput /txn/e\n", "kv", "txn");
    assertThat(badArity.code()).isEqualTo(2);
    assertThat(badArity.err()).contains("line 3: put with 1 argument(s) (expected: put KEY VALUE");

    CtlRun unclosed = ctl("\nput /txn/e \"v\n", "kv", "txn");
    assertThat(unclosed.code()).isEqualTo(2);
    assertThat(unclosed.err()).contains("line 2: an unclosed \"");
  }

  static ShardStatus status(int shard) {
    StatusResponse s =
        Stubs.call(client.stubs().cluster()::status, StatusRequest.getDefaultInstance(), true)
            .join();
    return s.getShardsList().stream()
        .filter(x -> x.getHeader().getShard() == shard)
        .findFirst()
        .orElseThrow();
  }

  @Test
  void compactCompactsTheShardItNames() throws Exception {
    try (MeridianClient shard1 =
        MeridianClient.builder().endpoints(region.urls()).shard(1).build()) {
      shard1.kv().put("/txn/s1/k", ByteString.copyFromUtf8("a"));
      long rev =
          shard1.kv().put("/txn/s1/k", ByteString.copyFromUtf8("b")).getHeader().getRevision();
      long shard0Compacted = status(0).getCompactRevision();

      CtlRun compact = ctl("", "kv", "compact", Long.toString(rev), "--shard", "1", "-o", "json");
      assertThat(compact.code()).as(compact.err()).isZero();
      assertThat(compact.out()).contains("\"shard\": 1");
      assertThat(status(1).getCompactRevision()).isEqualTo(rev);
      assertThat(status(0).getCompactRevision()).isEqualTo(shard0Compacted);
    }
  }

  @Test
  void compactUsageErrorsExitWith2() {
    CtlRun noShard = CtlRun.ctl(endpoints, "kv", "compact", "1");
    assertThat(noShard.code()).isEqualTo(2);
    assertThat(noShard.err()).contains("--shard").contains("[0, 1]");

    CtlRun badRev = ctl("", "kv", "compact", "soon", "--shard", "0");
    assertThat(badRev.code()).isEqualTo(2);
    assertThat(badRev.err()).contains("REV");

    CtlRun badShard = ctl("", "kv", "compact", "1", "--shard", "-1");
    assertThat(badShard.code()).isEqualTo(2);
    assertThat(badShard.err()).contains("--shard: -1");
  }
}
