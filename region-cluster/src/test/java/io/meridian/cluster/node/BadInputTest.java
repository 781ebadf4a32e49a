package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import io.meridian.api.LeaseId;
import io.meridian.api.Limits;
import io.meridian.cluster.DevCluster;
import java.nio.file.Path;
import java.util.Base64;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad input over HTTP/JSON gets its code, its HTTP status and a message; none changes
 * the state or stops the node.
 */
@Tag("cluster")
class BadInputTest {
  @TempDir static Path dir;
  static DevCluster cluster;
  static WebClient http;
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() throws Exception {
    cluster = TestClusters.start(dir);
    http = WebClient.of(cluster.node(0).clientUrl());
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static JsonNode post(String path, String body, int expectedStatus) throws Exception {
    AggregatedHttpResponse r =
        http.execute(RequestHeaders.of(HttpMethod.POST, path), body).aggregate().join();
    assertThat(r.status().code())
        .as("%s %s -> %s", path, abbreviate(body), r.contentUtf8())
        .isEqualTo(expectedStatus);
    return JSON.readTree(r.contentUtf8());
  }

  static void expectError(String path, String body, String code, int status) throws Exception {
    JsonNode error = post(path, body, status);
    assertThat(error.path("code").asText()).isEqualTo(code);
    assertThat(error.path("message").asText()).isNotBlank();
  }

  static String b64(int bytes) {
    return Base64.getEncoder().encodeToString(new byte[bytes]);
  }

  static String abbreviate(String s) {
    return s.length() > 80 ? s.substring(0, 80) + "..." : s;
  }

  @Test
  void eachBadRequestGetsItsCodeAndLeavesStateUnchanged() throws Exception {
    long before =
        post("/v1/kv/put", "{\"key\":\"/ok/a\",\"value\":\"eA==\"}", 200)
            .path("header")
            .path("revision")
            .asLong();

    expectError("/v1/kv/put", "{\"key\":\"\",\"value\":\"eA==\"}", "INVALID_ARGUMENT", 400);
    expectError(
        "/v1/kv/put",
        "{\"key\":\"/ok/" + "k".repeat(Limits.MAX_KEY_BYTES) + "\"}",
        "KEY_TOO_LARGE",
        413);
    expectError(
        "/v1/kv/put",
        "{\"key\":\"/ok/big\",\"value\":\"" + b64(Limits.MAX_VALUE_BYTES + 1) + "\"}",
        "VALUE_TOO_LARGE",
        413);
    String ops =
        IntStream.range(0, Limits.MAX_TXN_OPS + 1)
            .mapToObj(i -> "{\"requestPut\":{\"key\":\"/ok/t" + i + "\"}}")
            .collect(Collectors.joining(","));
    expectError("/v1/kv/txn", "{\"success\":[" + ops + "]}", "TOO_MANY_OPS", 400);
    expectError("/v1/kv/put", "{\"key\":\"/ok/.meridian/x\"}", "RESERVED_KEY", 400);
    expectError("/v1/lease/grant", "{\"namespace\":\"ok\",\"ttl\":1}", "INVALID_ARGUMENT", 400);
    expectError("/v1/lease/grant", "{\"namespace\":\"ok\",\"ttl\":99999}", "INVALID_ARGUMENT", 400);
    expectError("/v1/kv/put", "{\"key\":\"/ok/l\",\"lease\":\"12345\"}", "LEASE_NOT_FOUND", 404);
    expectError("/v1/lease/keepalive", "{\"id\":\"12345\"}", "LEASE_NOT_FOUND", 404);
    expectError("/v1/lease/revoke", "{\"id\":\"12345\"}", "LEASE_NOT_FOUND", 404);
    expectError(
        "/v1/lock/release", "{\"name\":\"/ok/job\",\"lease\":\"12345\"}", "LOCK_NOT_HELD", 404);
    expectError("/v1/kv/put", "{\"key\":\"/ok/a\"", "INVALID_ARGUMENT", 400);
    expectError("/v1/kv/put", "{\"key\":\"/ok/a\",\"colour\":\"red\"}", "INVALID_ARGUMENT", 400);
    assertThat(
            post("/v1/kv/put", "{\"key\":\"/ok/a\",\"colour\":\"red\"}", 400)
                .path("message")
                .asText())
        .as("the error names the unknown field")
        .contains("colour");
    assertThat(post("/v1/kv/put", "{\"key\":\"/ok/a\",\"value\":7}", 400).path("message").asText())
        .as("the error names the field with the wrong type")
        .contains("value");
    expectError("/v1/kv/range", "{\"key\":\"/ok/a\",\"limit\":-1}", "INVALID_ARGUMENT", 400);
    assertThat(post("/v1/lease/list", "", 200).has("header"))
        .as("an empty body is an empty request")
        .isTrue();
    expectError("/v1/kv/range", "{\"key\":\"/ok/a\",\"revision\":999999}", "FUTURE_REVISION", 422);

    // A linearizable read through the leader: no bad request added a revision.
    assertThat(
            post("/v1/kv/range", "{\"key\":\"/ok/a\"}", 200)
                .path("header")
                .path("revision")
                .asLong())
        .isEqualTo(before);
  }

  @Test
  void readingACompactedRevisionFailsWithTheCompactionRevision() throws Exception {
    // Revisions from the write responses: /v1/cluster/status reads the local replica.
    long first =
        post("/v1/kv/put", "{\"key\":\"/c/a\",\"value\":\"MQ==\"}", 200)
            .path("header")
            .path("revision")
            .asLong();
    long compactAt =
        post("/v1/kv/put", "{\"key\":\"/c/a\",\"value\":\"Mg==\"}", 200)
            .path("header")
            .path("revision")
            .asLong();
    post("/v1/kv/compact", "{\"revision\":\"" + compactAt + "\"}", 200);
    JsonNode error = post("/v1/kv/range", "{\"key\":\"/c/a\",\"revision\":\"" + first + "\"}", 410);
    assertThat(error.path("code").asText()).isEqualTo("COMPACTED");
    assertThat(error.path("details").path("compact_revision").asLong()).isEqualTo(compactAt);
    // The node still serves reads and writes.
    post("/v1/kv/put", "{\"key\":\"/c/b\",\"value\":\"Mw==\"}", 200);
  }

  @Test
  void plainCurlBodiesAreJson() throws Exception {
    AggregatedHttpResponse r =
        http.execute(
                HttpRequest.of(
                    RequestHeaders.builder(HttpMethod.POST, "/v1/kv/put")
                        .contentType(MediaType.FORM_DATA)
                        .build(),
                    com.linecorp.armeria.common.HttpData.ofUtf8(
                        "{\"key\":\"/curl/a\",\"value\":\"eA==\"}")))
            .aggregate()
            .join();
    assertThat(r.status().code()).isEqualTo(200);
  }

  static JsonNode send(HttpMethod method, String path, String body, int expectedStatus)
      throws Exception {
    AggregatedHttpResponse r =
        http.execute(RequestHeaders.of(method, path), body).aggregate().join();
    String answer = r.contentUtf8();
    assertThat(r.status().code()).as("%s %s -> %s", method, path, answer).isEqualTo(expectedStatus);
    assertThat(r.contentType()).as(answer).isNotNull();
    assertThat(r.contentType().isJson()).as(answer).isTrue();
    assertThat(answer).doesNotContain("java.", "com.google", "Exception");
    return JSON.readTree(answer);
  }

  @Test
  void everyRefusalIsAJsonErrorNamingTheFieldWithoutJavaClassNames() throws Exception {
    JsonNode notFound = send(HttpMethod.POST, "/v1/kv/putt", "{}", 404);
    assertThat(notFound.path("code").asText()).isEqualTo("NOT_FOUND");
    assertThat(notFound.path("message").asText()).contains("/v1/kv/putt");
    JsonNode wrongMethod = send(HttpMethod.GET, "/v1/kv/put", "", 405);
    assertThat(wrongMethod.path("code").asText()).isEqualTo("METHOD_NOT_ALLOWED");
    assertThat(wrongMethod.path("message").asText()).startsWith("use POST for /v1/kv/put");
    assertThat(send(HttpMethod.GET, "/v1/watch", "", 405).path("message").asText())
        .startsWith("use POST for /v1/watch");
    for (String path : new String[] {"/v1/kv/put", "/v1/watch"}) {
      assertThat(send(HttpMethod.POST, path, "{\"key\":", 400).path("message").asText())
          .startsWith("malformed JSON: ");
    }
    assertThat(
            send(HttpMethod.POST, "/v1/kv/put", "{\"key\":\"/ok/b\",\"value\":\"!!\"}", 400)
                .path("message")
                .asText())
        .isEqualTo("value: not base64");
    assertThat(
            send(
                    HttpMethod.POST,
                    "/v1/lock/acquire",
                    "{\"name\":\"/ok/job\",\"lease\":\"1\",\"mode\":\"SOLO\"}",
                    400)
                .path("message")
                .asText())
        .startsWith("mode: \"SOLO\"")
        .contains("SHARED", "EXCLUSIVE");
  }

  @Test
  void anUnknownLeaseIsRefusedInOneWordingByEveryCallThatNamesIt() throws Exception {
    long id = LeaseId.of(0, 424242);
    String expected = LeaseId.notFound(id).getMessage();
    assertThat(expected).startsWith("lease " + id + " not found");
    String[][] calls = {
      {"/v1/lease/keepalive", "{\"id\":\"" + id + "\"}"},
      {"/v1/lease/revoke", "{\"id\":\"" + id + "\"}"},
      {"/v1/lease/ttl", "{\"id\":\"" + id + "\"}"},
      {"/v1/kv/put", "{\"key\":\"/ok/l\",\"lease\":\"" + id + "\"}"},
      {"/v1/lock/acquire", "{\"name\":\"/ok/job\",\"lease\":\"" + id + "\"}"},
      {
        "/v1/registry/register",
        "{\"namespace\":\"ok\",\"service\":\"s\",\"instanceId\":\"i\",\"address\":\"10.0.0.1\","
            + "\"port\":80,\"lease\":\""
            + id
            + "\"}"
      },
    };
    for (String[] call : calls) {
      JsonNode error = send(HttpMethod.POST, call[0], call[1], 404);
      assertThat(error.path("code").asText()).as(call[0]).isEqualTo("LEASE_NOT_FOUND");
      assertThat(error.path("message").asText()).as(call[0]).isEqualTo(expected);
      assertThat(error.path("details").path("lease").asLong()).as(call[0]).isEqualTo(id);
    }
  }

  @Test
  void docsDescribeFieldsFromTheProtoCommentsAndListTheWatches() throws Exception {
    AggregatedHttpResponse r = http.get("/docs/specification.json").aggregate().join();
    assertThat(r.status().code()).isEqualTo(200);
    JsonNode spec = JSON.readTree(r.contentUtf8());
    assertThat(docStringOf(spec, "meridian.v1.PutRequest", "lease"))
        .isEqualToIgnoringWhitespace("Attach the key to this lease; 0 for none.");
    assertThat(r.contentUtf8())
        .contains("io.meridian.serving.HttpWatch")
        .contains("/v1/watch")
        .contains("/v1/registry/watch");
  }

  /** The docString DocService gives field {@code field} of struct {@code struct}. */
  static String docStringOf(JsonNode spec, String struct, String field) {
    for (JsonNode s : spec.path("structs")) {
      if (s.path("name").asText().equals(struct)) {
        for (JsonNode f : s.path("fields")) {
          if (f.path("name").asText().equals(field)) {
            return f.path("descriptionInfo").path("docString").asText(null);
          }
        }
      }
    }
    return null;
  }
}
