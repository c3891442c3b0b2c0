// Built-in prompts of the student and the teacher (our own wording; the output contracts
// follow Atlas's). Custom prompts from the config replace the
// built-in text; "{base_prompt}" inside them becomes the agent's system prompt.
#pragma once

#include <string>
#include <string_view>

namespace atlas::runtime::prompts {

std::string_view student_planner();
std::string_view student_executor();
std::string_view student_synthesizer();
std::string_view teacher_plan_review();
std::string_view teacher_validation();
std::string_view teacher_guidance();
// Coach lane of the capture gateway: guidance before the student's next model call.
std::string_view teacher_guidance_before_call();
std::string_view learning_synthesizer();

// The system prompt actually sent: playbook block (may be ""), then either `custom` with
// {base_prompt} substituted or "<base_prompt>\n\n<builtin>".
std::string compose(std::string_view playbook_block, std::string_view base_prompt, std::string_view custom,
                    std::string_view builtin);

}  // namespace atlas::runtime::prompts
