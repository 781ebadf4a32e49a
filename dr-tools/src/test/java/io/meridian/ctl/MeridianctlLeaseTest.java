package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseListResponse;
import io.meridian.api.v1.LeaseStatus;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import io.meridian.api.v1.PutRequest;
import io.meridian.client.MeridianClient;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl lease} against a real 3-member region. */
@Tag("cluster")
class MeridianctlLeaseTest {
  @TempDir static Path dir;
  static LocalRegion region;
  static String endpoints;
  static MeridianClient client;

  @BeforeAll
  static void start() throws Exception {
    region = LocalRegion.builder(dir.resolve("region")).start();
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

  /** The ID a {@code lease grant} printed, from its JSON. */
  static long grant(String namespace, String ttl) throws Exception {
    CtlRun grant = ctl("lease", "grant", namespace, ttl, "-o", "json");
    assertThat(grant.code()).as(grant.err()).isZero();
    LeaseGrantResponse.Builder parsed = LeaseGrantResponse.newBuilder();
    JsonFormat.parser().merge(grant.out(), parsed);
    assertThat(parsed.getId()).isNotZero();
    return parsed.getId();
  }

  @Test
  void grantTtlListAndRevoke() throws Exception {
    CtlRun grant = ctl("lease", "grant", "ctl-leases", "20s");
    assertThat(grant.code()).as(grant.err()).isZero();
    assertThat(grant.out().lines().findFirst().orElseThrow()).startsWith("ID").contains("TTL");
    String row = grant.out().lines().skip(1).findFirst().orElseThrow();
    assertThat(row).endsWith(" 20s");
    long id = Long.parseLong(row.split("\\s+")[0]);

    client
        .kv()
        .put(
            PutRequest.newBuilder()
                .setKey("/ctl-leases/bound")
                .setValue(ByteString.copyFromUtf8("v"))
                .setLease(id)
                .build());
    CtlRun ttl = ctl("lease", "ttl", Long.toString(id), "--keys");
    assertThat(ttl.code()).as(ttl.err()).isZero();
    assertThat(ttl.out().lines().skip(1).findFirst().orElseThrow())
        .startsWith(id + " ")
        .contains(" 20s ")
        .contains("ctl-leases")
        .endsWith("/ctl-leases/bound");

    CtlRun ttlJson = ctl("lease", "ttl", Long.toString(id), "--keys", "-o", "json");
    LeaseTimeToLiveResponse.Builder parsedTtl = LeaseTimeToLiveResponse.newBuilder();
    JsonFormat.parser().merge(ttlJson.out(), parsedTtl);
    assertThat(parsedTtl.getGrantedTtl()).isEqualTo(20);
    assertThat(parsedTtl.getTtl()).isBetween(1L, 20L);
    assertThat(parsedTtl.getKeysList()).containsExactly("/ctl-leases/bound");

    long other = grant("ctl-leases-other", "10");
    CtlRun list = ctl("lease", "list", "ctl-leases", "-o", "json");
    assertThat(list.code()).as(list.err()).isZero();
    LeaseListResponse.Builder parsedList = LeaseListResponse.newBuilder();
    JsonFormat.parser().merge(list.out(), parsedList);
    assertThat(parsedList.getLeasesList()).extracting(LeaseStatus::getId).containsExactly(id);
    CtlRun all = ctl("lease", "list");
    assertThat(all.out()).contains(id + " ").contains(other + " ").startsWith("ID");

    CtlRun revoke = ctl("lease", "revoke", Long.toString(id));
    assertThat(revoke.code()).as(revoke.err()).isZero();
    assertThat(revoke.out().lines().skip(1).findFirst().orElseThrow()).startsWith(id + " ");
    assertThat(client.kv().get("/ctl-leases/bound")).isEmpty();
    CtlRun gone = ctl("lease", "ttl", Long.toString(id));
    assertThat(gone.code()).isEqualTo(1);
    assertThat(gone.err()).startsWith("Error: LEASE_NOT_FOUND: ");
  }

  @Test
  void keepAliveOnceRenewsAndPrintsTheTtl() throws Exception {
    long id = grant("ctl-keepalive", "10s");
    CtlRun once = ctl("lease", "keep-alive", Long.toString(id), "--once");
    assertThat(once.code()).as(once.err()).isZero();
    assertThat(once.out()).isEqualTo("lease " + id + " kept alive, TTL 10s\n");

    CtlRun json = ctl("lease", "keep-alive", Long.toString(id), "--once", "-o", "json");
    assertThat(json.code()).as(json.err()).isZero();
    assertThat(json.out().lines()).hasSize(1);
    LeaseKeepAliveResponse.Builder parsed = LeaseKeepAliveResponse.newBuilder();
    JsonFormat.parser().merge(json.out(), parsed);
    assertThat(parsed.getId()).isEqualTo(id);
    assertThat(parsed.getTtl()).isEqualTo(10);
  }

  @Test
  void keepAliveStreamsUntilTheLeaseIsGone() throws Exception {
    long id = grant("ctl-keepalive", "5s");
    try (CtlRun.Background keepAlive =
        CtlRun.background(endpoints, "lease", "keep-alive", Long.toString(id))) {
      // A 5 s lease is renewed every ~1.7 s: two lines show it streams.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> keepAlive.out().lines().count() >= 2 || keepAlive.isDone());
      assertThat(keepAlive.isDone()).as(keepAlive.err()).isFalse();
      assertThat(keepAlive.out().lines())
          .allMatch(l -> l.equals("lease " + id + " kept alive, TTL 5s"));

      client.leases().revoke(id);
      await().atMost(Duration.ofSeconds(30)).until(keepAlive::isDone);
      assertThat(keepAlive.code()).isEqualTo(1);
      assertThat(keepAlive.err()).startsWith("Error: LEASE_NOT_FOUND: ");
    }
  }

  @Test
  void badInputExits2NamingTheParameterAndRefusalsExit1WithTheCode() {
    CtlRun notANumber = ctl("lease", "ttl", "abc");
    assertThat(notANumber.code()).isEqualTo(2);
    assertThat(notANumber.err()).contains("ID").contains("abc");

    CtlRun badTtl = ctl("lease", "grant", "ctl-bad", "1500ms");
    assertThat(badTtl.code()).isEqualTo(2);
    assertThat(badTtl.err()).contains("TTL").contains("whole seconds");

    CtlRun unknown = ctl("lease", "revoke", "123456789");
    assertThat(unknown.code()).isEqualTo(1);
    assertThat(unknown.err()).startsWith("Error: LEASE_NOT_FOUND: ").doesNotContain("Exception");
    CtlRun unknownKeepAlive = ctl("lease", "keep-alive", "123456789", "--once");
    assertThat(unknownKeepAlive.code()).isEqualTo(1);
    assertThat(unknownKeepAlive.err()).startsWith("Error: LEASE_NOT_FOUND: ");

    CtlRun badNamespace = ctl("lease", "grant", "no/slashes", "10s");
    assertThat(badNamespace.code()).isEqualTo(1);
    assertThat(badNamespace.err()).startsWith("Error: INVALID_ARGUMENT: namespace");

    // Below the region's minimum TTL (5 s by default): the server says so.
    CtlRun tooShort = ctl("lease", "grant", "ctl-bad", "1");
    assertThat(tooShort.code()).isEqualTo(1);
    assertThat(tooShort.err()).startsWith("Error: INVALID_ARGUMENT: ttl");

    CtlRun help = CtlRun.run("lease", "--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("grant", "keep-alive", "revoke", "ttl", "list");
  }
}
