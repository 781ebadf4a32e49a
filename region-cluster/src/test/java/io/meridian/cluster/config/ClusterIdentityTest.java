package io.meridian.cluster.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterIdentityTest {
  @TempDir Path dir;

  private NodeConfig config(String token) {
    String yaml =
        "member: n1\ndata-dir: "
            + dir
            + "\nclient: {host: 127.0.0.1, port: 1}\npeer: {host: 127.0.0.1, port: 2}\n"
            + "members: [{id: n1, peer: '127.0.0.1:2', client: 'http://127.0.0.1:1'}]\n"
            + "shards: [{id: 0, role: PRIMARY, epoch: 1}]\n"
            + (token == null ? "" : "cluster-token: " + token + "\n");
    return NodeConfig.parse(yaml);
  }

  @Test
  void theEmptyTokenKeepsTheGroupIdsOfBeforeAndATokenMakesOthers() {
    assertThat(ClusterIdentity.groupUuid("east", 0, ""))
        .isEqualTo(
            java.util.UUID.nameUUIDFromBytes(
                "meridian/east/shard/0".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    assertThat(ClusterIdentity.groupUuid("east", 0, "t1"))
        .isNotEqualTo(ClusterIdentity.groupUuid("east", 0, ""))
        .isNotEqualTo(ClusterIdentity.groupUuid("east", 0, "t2"))
        .isEqualTo(ClusterIdentity.groupUuid("east", 0, "t1"));
  }

  @Test
  void theDataDirectorysTokenIsUsedAndAConfigThatDiffersStopsTheNode() throws IOException {
    assertThat(ClusterIdentity.resolve(config(null))).isEmpty();
    ClusterIdentity.record(dir, "s-abc");
    assertThat(ClusterIdentity.resolve(config(null))).isEqualTo("s-abc");
    assertThat(ClusterIdentity.resolve(config("s-abc"))).isEqualTo("s-abc");
    assertThatThrownBy(() -> ClusterIdentity.resolve(config("other")))
        .hasMessageContaining("cluster-token: other")
        .hasMessageContaining("cluster token s-abc");
  }

  @Test
  void aTokenForADirectoryWithGroupsMadeWithoutOneIsRefused() throws IOException {
    Files.createDirectories(dir.resolve("raft").resolve("some-group"));
    assertThatThrownBy(() -> ClusterIdentity.resolve(config("t1")))
        .hasMessageContaining("holds Raft groups made without a token");
    Files.delete(dir.resolve("raft").resolve("some-group"));
    assertThat(ClusterIdentity.resolve(config("t1"))).isEqualTo("t1");
    assertThat(Files.readString(dir.resolve(ClusterIdentity.TOKEN_FILE)).trim()).isEqualTo("t1");
  }

  @Test
  void aTokenOutsideItsCharactersIsRefusedByTheConfig() {
    assertThatThrownBy(() -> config("'a b'")).hasMessageContaining("cluster-token");
  }
}
