"""The official openai client, unmodified, against a running Nuri worker serving builtin:tiny-axk1-tools (random
weights, tool calls forced by tool_choice). Run by OpenAiPythonClientTest; by hand:
    python openai_client_check.py http://127.0.0.1:8000/v1
Exits non-zero (with the assertion) on the first check that fails."""
import json
import sys
from typing import Literal

from openai import OpenAI
from pydantic import BaseModel, Field

MODEL = "tiny-axk1-tools"
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 2, "maxLength": 12},
                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                           "parameters": WEATHER, "strict": True}},
         {"type": "function", "function": {"name": "send_email", "description": "Send an email",
                                           "parameters": {"type": "object", "properties": {"to": {"type": "string", "maxLength": 20}},
                                                          "required": ["to"], "additionalProperties": False}}}]
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def check_weather_arguments(text):
    args = json.loads(text)
    assert set(args) == {"city", "unit"}, args
    assert isinstance(args["city"], str) and 2 <= len(args["city"]) <= 12, args
    assert args["unit"] in ("celsius", "fahrenheit"), args
    return args


def tool_call_round_trip(client):
    messages = [{"role": "user", "content": "What is the weather in Seoul?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, tool_choice=FORCE_WEATHER,
                                           max_tokens=300, temperature=1.0, seed=1)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather", call
    args = check_weather_arguments(call.function.arguments)
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 3, "city": args["city"]})})
    answer = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, max_tokens=16, temperature=0)
    final = answer.choices[0]
    assert final.message.role == "assistant" and final.finish_reason in ("stop", "length"), final
    assert answer.usage.prompt_tokens > first.usage.prompt_tokens, (answer.usage, first.usage)
    print("round trip: called get_weather(%s), then answered %r" % (call.function.arguments, final.message.content))


def streamed_tool_call(client):
    events = []
    with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS,
                                        tool_choice="required", max_tokens=300, temperature=1.0, seed=2) as stream:
        for event in stream:
            events.append(event.type)
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert len(calls) == 1 and calls[0].id.startswith("call_"), calls
    if calls[0].function.name == "get_weather":
        check_weather_arguments(calls[0].function.arguments)
    else:
        assert calls[0].function.name == "send_email", calls
        assert len(json.loads(calls[0].function.arguments)["to"]) <= 20
    assert "tool_calls.function.arguments.done" in events, events
    print("stream: reassembled %s(%s) from %d events" % (calls[0].function.name, calls[0].function.arguments, len(events)))


class Weather(BaseModel):
    city: str = Field(min_length=1, max_length=12)
    celsius: int = Field(ge=-50, le=50)
    conditions: Literal["sunny", "cloudy", "rainy"]
    wind_kmh: float = Field(ge=0, le=200)


def json_schema_output(client):
    for seed in (1, 2, 3):
        completion = client.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "Weather in Busan?"}],
                                                   response_format=Weather, max_tokens=200, temperature=1.0, seed=seed)
        parsed = completion.choices[0].message.parsed
        assert isinstance(parsed, Weather), completion
        print("json_schema: %s" % parsed.model_dump_json())


def main():
    client = OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0, timeout=120)
    tool_call_round_trip(client)
    streamed_tool_call(client)
    json_schema_output(client)
    print("openai %s: all checks passed" % __import__("openai").__version__)


if __name__ == "__main__":
    main()
