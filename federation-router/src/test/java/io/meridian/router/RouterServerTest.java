package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A router started from its files, as {@code bin/meridian router} starts it, in front of region
 * clusters that do not exist: it serves its own endpoints, refuses bad input with a code and a
 * message, and answers requests it cannot route within its deadline.
 */
@Tag("cluster")
class RouterServerTest {
  @TempDir Path dir;

  @Test
  void aRouterWithNoReachableClusterAnswersClearlyAndInTime() throws Exception {
    int dead;
    try (ServerSocket s = new ServerSocket(0)) {
      dead = s.getLocalPort();
    }
    Files.writeString(
        dir.resolve("table.yaml"),
        RoutingTableTest.table(3, RoutingTableTest.HALVES, "")
            .replace("127.0.0.1:2379", "127.0.0.1:" + dead)
            .replace("127.0.0.2:2379", "127.0.0.1:" + dead)
            .replace("127.0.0.3:2379", "127.0.0.1:" + dead)
            .replace("127.0.0.4:2379", "127.0.0.1:" + dead));
    Files.writeString(
        dir.resolve("router.yaml"),
        """
        region: us-west
        listen: {port: 0}
        table: table.yaml
        upstream: {request-timeout-ms: 2000, attempt-timeout-ms: 500}
        reads: {region-timeout-ms: 500}
        """);
    try (RouterServer router = RouterServer.start(RouterConfig.load(dir.resolve("router.yaml")))) {
      WebClient web = WebClient.of(router.url());
      assertThat(web.get("/health").aggregate().join().status().code()).isEqualTo(200);
      assertThat(web.get("/v1/router/table").aggregate().join().contentUtf8())
          .contains("\"version\":\"3\"")
          .contains("\"region\":\"us-west\"");
      assertThat(web.get("/metrics").aggregate().join().contentUtf8())
          .contains("meridian_router_table_version 3.0");

      AggregatedHttpResponse malformed = post(web, "/v1/kv/put", "{\"key\": ");
      assertThat(malformed.status().code()).isEqualTo(400);
      assertThat(malformed.contentUtf8())
          .contains("INVALID_ARGUMENT", "malformed JSON: ")
          .doesNotContain("java.", "com.google", "Exception");
      AggregatedHttpResponse badEnum =
          post(web, "/v1/kv/range", "{\"key\": \"/orders/x\", \"consistency\": \"FRESH\"}");
      assertThat(badEnum.status().code()).isEqualTo(400);
      assertThat(badEnum.contentUtf8()).contains("consistency: \\\"FRESH\\\"", "LOCAL");
      AggregatedHttpResponse unknownPath = post(web, "/v1/kv/putt", "{}");
      assertThat(unknownPath.status().code()).isEqualTo(404);
      assertThat(unknownPath.contentUtf8()).contains("\"code\":\"NOT_FOUND\"", "/v1/kv/putt");
      AggregatedHttpResponse wrongMethod = web.get("/v1/watch").aggregate().join();
      assertThat(wrongMethod.status().code()).isEqualTo(405);
      assertThat(wrongMethod.contentUtf8())
          .contains("METHOD_NOT_ALLOWED", "use POST for /v1/watch");
      AggregatedHttpResponse notDelete =
          web.execute(RequestHeaders.of(HttpMethod.DELETE, "/v1/router/table")).aggregate().join();
      assertThat(notDelete.status().code()).isEqualTo(405);
      assertThat(notDelete.contentUtf8()).contains("use GET or POST for /v1/router/table");
      assertThat(web.get("/docs/specification.json").aggregate().join().contentUtf8())
          .as("/docs lists the watches and describes fields from the proto comments")
          .contains("/v1/watch")
          .contains("/v1/registry/watch")
          .contains("Attach the key to this lease; 0 for none.");
      AggregatedHttpResponse noNamespace = post(web, "/v1/kv/put", "{\"key\": \"nope\"}");
      assertThat(noNamespace.status().code()).isEqualTo(400);
      assertThat(noNamespace.contentUtf8()).contains("a path that begins with");
      AggregatedHttpResponse badTable =
          post(web, "/v1/router/table", "{\"table\": \"version: 9\"}");
      assertThat(badTable.status().code()).isEqualTo(400);
      assertThat(badTable.contentUtf8()).contains("routing table");
      AggregatedHttpResponse noShard = post(web, "/v1/kv/compact", "{\"revision\": \"5\"}");
      assertThat(noShard.status().code()).isEqualTo(400);
      assertThat(noShard.contentUtf8()).contains("meridian-shard");

      Instant start = Instant.now();
      AggregatedHttpResponse put =
          post(web, "/v1/kv/put", "{\"key\": \"/orders/x\", \"value\": \"eA==\"}");
      assertThat(put.status().code()).isEqualTo(503);
      assertThat(put.contentUtf8()).contains("UNAVAILABLE").contains("region us-east");
      // Within the router's own budget (2 s) and margin: it never holds a request forever.
      assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(10));
      assertThat(router.table().version()).isEqualTo(3);
    }
  }

  private static AggregatedHttpResponse post(WebClient web, String path, String json) {
    return web.execute(
            HttpRequest.of(
                RequestHeaders.builder(HttpMethod.POST, path).contentType(MediaType.JSON).build(),
                HttpData.ofUtf8(json)))
        .aggregate()
        .join();
  }
}
