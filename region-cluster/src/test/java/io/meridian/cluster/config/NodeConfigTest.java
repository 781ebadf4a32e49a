package io.meridian.cluster.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.Role;
import io.meridian.serving.config.ConfigException;
import io.meridian.serving.tls.TlsSettings;
import io.netty.handler.ssl.ClientAuth;
import org.junit.jupiter.api.Test;

class NodeConfigTest {
  static final String GOOD =
      """
      member: n1
      region: us-east
      data-dir: /tmp/n1
      client: {host: 127.0.0.1, port: 2379}
      peer: {host: 127.0.0.1, port: 2380}
      members:
        - {id: n1, peer: "127.0.0.1:2380", client: "http://127.0.0.1:2379"}
      shards:
        - {id: 0, role: PRIMARY, epoch: 1}
      """;

  @Test
  void readsAFileAndFillsDefaults() {
    NodeConfig c = NodeConfig.parse(GOOD);
    assertThat(c.member()).isEqualTo("n1");
    assertThat(c.dataDir()).isEqualTo("/tmp/n1");
    assertThat(c.client()).isEqualTo(new NodeConfig.Endpoint("127.0.0.1", 2379));
    assertThat(c.self()).isEqualTo(c.members().get(0));
    assertThat(c.shards()).containsExactly(new NodeConfig.ShardSpec(0, Role.PRIMARY, 1L));
    assertThat(c.raft()).isEqualTo(new NodeConfig.Raft(1000L, 2000L, 10_000L, 8L << 20, 1024));
    assertThat(c.lease()).isEqualTo(new NodeConfig.Lease(5L, 3600L, 30L, 60_000L));
    assertThat(c.lock().maxWaitMs()).isEqualTo(300_000L);
    assertThat(c.storage())
        .isEqualTo(new NodeConfig.Storage(1L << 30, 100_000, 100_000L, 0L, 60_000L));
    assertThat(c.watch()).isEqualTo(new NodeConfig.Watch(10_000L, 8L << 20, 1000));
    assertThat(c.registry()).isEqualTo(new NodeConfig.Registry(30L, true, 0.85, 10, 60_000L));
  }

  @Test
  void aRegionLeftOutIsLocal() {
    assertThat(NodeConfig.parse(GOOD.replace("region: us-east\n", "")).region()).isEqualTo("local");
  }

  @Test
  void namesTheBadKey() {
    assertRefused(GOOD + "bogus: 1\n", "bogus", "unknown key (expected: one of member, region, ");
    assertRefused(
        GOOD.replace("role: PRIMARY, ", ""),
        "shards[0].role",
        "missing (expected: PRIMARY, STANDBY or FENCED)");
    assertRefused(
        GOOD.replace("port: 2379", "port: 70000"), "client.port", "70000 (expected: 0..65535)");
    assertRefused(
        GOOD + "lease: {min-ttl-seconds: 60}\n",
        "lease.default-ttl-seconds",
        "30 (expected: 60..3600, from lease.min-ttl-seconds and lease.max-ttl-seconds)");
    assertRefused(
        GOOD + "lease: {max-ttl-seconds: 4, min-ttl-seconds: 5}\n",
        "lease.max-ttl-seconds",
        "4 (expected: >= lease.min-ttl-seconds 5)");
    assertRefused(
        GOOD + "raft: {election-timeout-min-ms: 500, election-timeout-max-ms: 500}\n",
        "raft.election-timeout-max-ms",
        "500 (expected: > raft.election-timeout-min-ms 500)");
    assertRefused(
        GOOD + "registry: {renewal-threshold: 1.5}\n",
        "registry.renewal-threshold",
        "1.5 (expected: > 0 and <= 1)");
    assertRefused(
        GOOD + "registry: {default-ttl-seconds: 1}\n",
        "registry.default-ttl-seconds",
        "1 (expected: 5..3600, from lease.min-ttl-seconds and lease.max-ttl-seconds)");
    assertRefused(
        GOOD + "watch: {max-pending-bytes: 10}\n",
        "watch.max-pending-bytes",
        "10 (expected: >= 65536)");
    assertRefused(
        GOOD + "storage: {compaction-retention-ms: -1}\n",
        "storage.compaction-retention-ms",
        "-1 (expected: >= 0)");
    assertRefused(
        GOOD.replace("member: n1", "member: n9"),
        "members",
        "no member n9 (expected: this node's member among them)");
    assertRefused(
        GOOD.replace("data-dir: /tmp/n1\n", ""), "data-dir", "missing (expected: a directory)");
    assertRefused(
        GOOD.replace("\"127.0.0.1:2380\"", "\"127.0.0.1\""),
        "members[0].peer",
        "127.0.0.1 (expected: host:port)");
    assertRefused(
        GOOD + "  - {id: 0, role: STANDBY, epoch: 1}\n", "shards[1].id", "0 (expected: unique)");
    assertRefused(
        GOOD + "backup: {dir: /tmp/b, every-entries: 0, interval-ms: 0}\n",
        "backup.interval-ms",
        "0 (expected: > 0, or backup.every-entries > 0, when backup.dir is set)");
  }

  @Test
  void tlsIsOffUnlessACertificateIsNamedAndItsRulesAreChecked() {
    assertThat(NodeConfig.parse(GOOD).tls()).isEqualTo(TlsSettings.PLAIN);
    NodeConfig mutual =
        NodeConfig.parse(
            GOOD
                + "tls: {cert-file: /etc/m/n1.pem, key-file: /etc/m/n1-key.pem, ca-file: /etc/m/ca.pem,"
                + " client-auth: REQUIRE}\n");
    assertThat(mutual.tls())
        .isEqualTo(
            new TlsSettings(
                "/etc/m/n1.pem", "/etc/m/n1-key.pem", "/etc/m/ca.pem", ClientAuth.REQUIRE));
    assertThat(mutual.tls().scheme()).isEqualTo("https");
    assertRefused(
        GOOD + "tls: {cert-file: /etc/m/n1.pem}\n",
        "tls.key-file",
        "missing (expected: set with `tls.cert-file`");
    assertRefused(
        GOOD + "tls: {key-file: /etc/m/n1-key.pem}\n",
        "tls.cert-file",
        "missing (expected: set with `tls.key-file`");
    assertRefused(
        GOOD + "tls: {cert-file: a.pem, key-file: b.pem, client-auth: REQUIRE}\n",
        "tls.ca-file",
        "missing (expected: set when `tls.client-auth` is REQUIRE");
    assertRefused(
        GOOD + "tls: {ca-file: ca.pem}\n",
        "tls.cert-file",
        "missing (expected: set: `tls.ca-file` checks callers");
    assertRefused(
        GOOD + "tls: {cert-file: a.pem, key-file: b.pem, client-auth: SOMETIMES}\n",
        "tls.client-auth",
        "SOMETIMES (expected: NONE, OPTIONAL or REQUIRE)");
  }

  @Test
  void peerTlsIsOffUnlessSetAndNeedsAllThreeFiles() {
    assertThat(NodeConfig.parse(GOOD).peerTls()).isEqualTo(PeerTls.PLAIN);
    NodeConfig on =
        NodeConfig.parse(
            GOOD
                + "peer-tls: {cert-file: /p/n1.pem, key-file: /p/n1-key.pem, ca-file: /p/ca.pem}\n");
    assertThat(on.peerTls()).isEqualTo(new PeerTls("/p/n1.pem", "/p/n1-key.pem", "/p/ca.pem"));
    assertThat(on.peerTls().enabled()).isTrue();
    assertRefused(
        GOOD + "peer-tls: {cert-file: /p/n1.pem, key-file: /p/n1-key.pem}\n",
        "peer-tls.ca-file",
        "missing (expected: set: peer TLS needs");
    assertRefused(
        GOOD + "peer-tls: {ca-file: /p/ca.pem}\n",
        "peer-tls.cert-file",
        "missing (expected: set: peer TLS needs");
  }

  @Test
  void textThatIsNotYamlIsRefused() {
    assertThatThrownBy(() -> NodeConfig.parse("member: [unclosed"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("node config: not YAML at line ");
  }

  private static void assertRefused(String yaml, String key, String problem) {
    assertThatThrownBy(() -> NodeConfig.parse(yaml))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertThat(e.key()).isEqualTo(key);
              assertThat(e.getMessage()).startsWith("node config: " + key + ": " + problem);
            });
  }
}
