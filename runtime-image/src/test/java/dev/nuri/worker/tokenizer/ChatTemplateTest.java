package dev.nuri.worker.tokenizer;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every chat template we ship renders exactly as Python Jinja2 does (transformers' settings). */
class ChatTemplateTest {
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
}
