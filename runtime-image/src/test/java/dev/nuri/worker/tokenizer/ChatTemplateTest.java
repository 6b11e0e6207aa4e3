package dev.nuri.worker.tokenizer;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every chat template we ship renders exactly as Python Jinja2 does (transformers' settings). */
class ChatTemplateTest {
    static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Test
    @SuppressWarnings("unchecked")
    void builtinTemplateMatchesJinja2() throws IOException {
        try (ModelTokenizer tokenizer = ModelTokenizer.builtin("tiny-axk1")) {
            ChatTemplate template = new ChatTemplate(tokenizer.chatTemplate(), tokenizer.bosToken(), tokenizer.eosToken());
            var cases = ModelTokenizerTest.fixture("chat-template-expected.json").getJsonArray("builtin");
            assertThat(cases).isNotEmpty();
            for (Object o : cases) {
                JsonObject c = (JsonObject) o;
                List<Map<String, Object>> messages = (List<Map<String, Object>>) (List<?>) c.getJsonArray("messages").getList();
                assertThat(template.render(messages, c.getBoolean("add_generation_prompt"))).isEqualTo(c.getString("rendered"));
            }
        }
    }

    @Test
    void raiseExceptionInATemplateBecomesAnError() {
        ChatTemplate template = new ChatTemplate("{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok",
                "", "");
        assertThat(template.render(List.of(Map.of("role", "user", "content", "x")), true)).isEqualTo("ok");
        assertThatThrownBy(() -> template.render(List.of(Map.of("role", "assistant", "content", "x")), true))
                .isInstanceOf(ChatTemplate.ChatTemplateException.class).hasMessageContaining("first message must be from the user");
    }

    /** The builtin template, with message content taken straight from a caller. */
    private static String renderBuiltin(String content) {
        try (ModelTokenizer tokenizer = ModelTokenizer.builtin("tiny-axk1")) {
            ChatTemplate template = new ChatTemplate(tokenizer.chatTemplate(), tokenizer.bosToken(), tokenizer.eosToken());
            return template.render(List.of(Map.of("role", "user", "content", content)), false);
        }
    }

    @Test
    void messageContentIsDataNotTemplateCode() {
        assertThat(renderBuiltin("{{ 7*7 }}")).contains("{{ 7*7 }}").doesNotContain("49");
        assertThat(renderBuiltin("{% include 'META-INF/MANIFEST.MF' %}")).contains("{% include 'META-INF/MANIFEST.MF' %}")
                .doesNotContain("Manifest-Version");
        String loops = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}";
        assertThat(renderBuiltin(loops)).contains(loops);
    }

    @Test
    void aTemplateLoadsNoResources() {
        for (String tag : List.of("{% include 'META-INF/MANIFEST.MF' %}", "{% import 'META-INF/MANIFEST.MF' as m %}",
                "{% from 'META-INF/MANIFEST.MF' import x %}")) {
            ChatTemplate template = new ChatTemplate("a" + tag + "b", "", "");
            assertThatThrownBy(() -> template.render(List.of(), false)).as(tag)
                    .isInstanceOf(ChatTemplate.ChatTemplateException.class).hasMessageNotContaining("Manifest-Version");
        }
    }

    @Test
    void renderTimeAndOutputAreBounded() {
        ChatTemplate slow = new ChatTemplate("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}", "", "", Duration.ofMillis(300), 1 << 20);
        long start = THREADS.getCurrentThreadCpuTime();
        assertThatThrownBy(() -> slow.render(List.of(), false)).isInstanceOf(ChatTemplate.ChatTemplateException.class)
                .hasMessageContaining("longer than 300 ms");
        // cut soon after its limit (the whole render would take minutes), counted as the limit is: in CPU time, which a
        // loaded machine does not stretch
        assertThat(Duration.ofNanos(THREADS.getCurrentThreadCpuTime() - start)).isLessThan(Duration.ofSeconds(5));

        ChatTemplate big = new ChatTemplate("{% for a in range(1000) %}{% for b in range(1000) %}0123456789{% endfor %}{% endfor %}",
                "", "", Duration.ofSeconds(30), 100_000);
        assertThatThrownBy(() -> big.render(List.of(), false)).isInstanceOf(ChatTemplate.ChatTemplateException.class)
                .hasMessageContaining("100000");
    }

    @Test
    void theRenderLimitCountsCpuTimeNotTimeSpentWaiting() {
        ChatTemplate template = new ChatTemplate("{{ messages[0]['content'] }}{% for i in range(3) %}.{% endfor %}", "", "",
                Duration.ofMillis(300), 1 << 20);
        assertThat(template.render(List.of(Map.of("content", "warm")), false)).isEqualTo("warm..."); // class loading: CPU time of its own
        // A message whose content takes a second to arrive while the render uses almost no CPU: what a render on a machine
        // whose cores are all busy looks like (a first render took over 2 s of wall-clock time at load average 27). The
        // park is that stall, not a wait for a condition.
        Map<String, Object> slowToRead = new java.util.AbstractMap<>() {
            @Override
            public Object get(Object key) {
                java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofSeconds(1).toNanos());
                return "content".equals(key) ? "hi" : null;
            }

            @Override
            public Set<Entry<String, Object>> entrySet() {
                return Set.of(Map.entry("content", get("content")));
            }
        };
        assertThat(template.render(List.of(slowToRead), false)).isEqualTo("hi...");
    }
}
