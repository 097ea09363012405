// A small, bundled set of common emoji, grouped like a phone keyboard. They are plain
// Unicode text, drawn by the reader's own system font.
export const EMOJI_GROUPS = [
  {
    name: 'Smileys',
    icon: '😀',
    emoji:
      '😀 😃 😄 😁 😆 😅 😂 🤣 🙂 🙃 😉 😊 😇 🥰 😍 🤩 😘 😗 😚 😋 😛 😜 🤪 😝 🤗 🤭 🤫 🤔 🤐 🤨 😐 😑 😶 😏 😒 🙄 😬 😌 😔 😪 😴 😷 🤒 🤕 🤢 🤧 🥵 🥶 😵 🤯 🤠 🥳 😎 🤓 🧐 😕 😟 🙁 😮 😯 😲 😳 🥺 😦 😧 😨 😰 😥 😢 😭 😱 😖 😣 😞 😓 😩 😫 🥱 😤 😡 😠 🤬 😈 💀 💩 🤡 👻 👽 🤖',
  },
  {
    name: 'People',
    icon: '👍',
    emoji:
      '👋 🤚 ✋ 🖖 👌 🤌 🤏 ✌️ 🤞 🤟 🤘 🤙 👈 👉 👆 👇 ☝️ 👍 👎 ✊ 👊 🤛 🤜 👏 🙌 👐 🤲 🤝 🙏 ✍️ 💪 🧠 👀 👁️ 👅 👄 👶 🧒 👦 👧 🧑 👨 👩 🧓 👴 👵 🙋 🙆 🙅 🤷 🤦 🙇 💁 🧑‍💻 🧑‍🍳 🧑‍🏫 🧑‍🔧 🕺 💃 🚶 🏃',
  },
  {
    name: 'Hearts',
    icon: '❤️',
    emoji:
      '❤️ 🧡 💛 💚 💙 💜 🤎 🖤 🤍 💔 ❣️ 💕 💞 💓 💗 💖 💘 💝 💯 💢 💥 💫 💦 💨 💬 💭 💤 ✨ ⭐ 🌟 🔥 🎉 🎊',
  },
  {
    name: 'Nature',
    icon: '🐶',
    emoji:
      '🐶 🐱 🐭 🐹 🐰 🦊 🐻 🐼 🐨 🐯 🦁 🐮 🐷 🐸 🐵 🐔 🐧 🐦 🐤 🦆 🦉 🐺 🐴 🦄 🐝 🐛 🦋 🐌 🐞 🐢 🐍 🐙 🐠 🐬 🐳 🌵 🌲 🌳 🌴 🌱 🌿 🍀 🍁 🍂 🌷 🌹 🌻 🌼 🌸 🌞 🌝 🌙 🌈 ☀️ ⛅ ☁️ 🌧️ ⛈️ ❄️ ☃️ 🌊',
  },
  {
    name: 'Food',
    icon: '🍕',
    emoji:
      '🍏 🍎 🍐 🍊 🍋 🍌 🍉 🍇 🍓 🫐 🍒 🍑 🥭 🍍 🥥 🥝 🍅 🥑 🥦 🥕 🌽 🌶️ 🥔 🥐 🍞 🥖 🧀 🥚 🍳 🥞 🥓 🍔 🍟 🍕 🌭 🥪 🌮 🌯 🥗 🍝 🍜 🍲 🍣 🍱 🍚 🍦 🍩 🍪 🎂 🍰 🧁 🍫 🍬 🍿 ☕ 🍵 🥤 🍺 🍻 🥂 🍷',
  },
  {
    name: 'Activities',
    icon: '⚽',
    emoji:
      '⚽ 🏀 🏈 ⚾ 🎾 🏐 🏉 🎱 🏓 🏸 🥅 ⛳ 🎣 🚴 🏊 🏄 ⛷️ 🏂 🎿 🏆 🥇 🥈 🥉 🏅 🎮 🎲 🧩 ♟️ 🎯 🎳 🎭 🎨 🎬 🎤 🎧 🎼 🎹 🥁 🎷 🎺 🎸 🎻',
  },
  {
    name: 'Travel & objects',
    icon: '🚗',
    emoji:
      '🚗 🚕 🚌 🚎 🚓 🚑 🚒 🚲 🛴 🏍️ 🚂 ✈️ 🚀 🛸 🚁 ⛵ 🚢 🏠 🏡 🏢 🏫 🏥 ⛺ 🗺️ ⏰ ⌛ 📱 💻 ⌨️ 🖥️ 🖨️ 📷 📺 📻 💡 🔦 📚 📖 📝 ✏️ 📎 📌 📅 📦 ✉️ 📬 🔑 🔒 🔓 🔨 🛠️ 🧰 💰 💳 🎁 🎈',
  },
  {
    name: 'Symbols',
    icon: '✅',
    emoji:
      '✅ ☑️ ✔️ ❌ ❎ ➕ ➖ ➗ ✖️ ❓ ❔ ❗ ❕ ⚠️ 🚫 ⛔ 🔴 🟠 🟡 🟢 🔵 🟣 ⚫ ⚪ 🔺 🔻 🔶 🔷 ▶️ ⏸️ ⏹️ ⏩ ⏪ 🔁 🔀 ⬆️ ⬇️ ⬅️ ➡️ ↩️ ↪️ 🔔 🔕 📣 🆗 🆕 🆒 🆘 ♻️ ™️ ©️ ®️',
  },
].map((group) => ({ ...group, emoji: group.emoji.split(' ') }))
