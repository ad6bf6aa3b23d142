#!/usr/bin/env python3
"""Write ``src/cxrpilot/workstation/data/common-passwords.txt``: passwords that are guessed
first, for the workstation's password policy (OWASP ASVS 4.0 2.1.7: refuse common and
breached passwords).

Nothing is downloaded: the list is generated from the most common passwords and words of
the public password-frequency literature (the top entries of the RockYou and
"10k most common" lists, keyboard walks, digit runs) and the ways people stretch them to a
required length (repeated, with years, digits and symbols appended), plus words of this
workstation's own context (hospital, radiology, product names), which an attacker of a
reading station tries first. Entries are lower case without white space, as the policy
compares them; only entries of at least 10 characters are kept (shorter ones fail
the length rule anyway). Deterministic: the same file on every run.

    python scripts/make_common_passwords.py
"""

from __future__ import annotations

import itertools
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/cxrpilot/workstation/data/common-passwords.txt"

#: The most frequent passwords and base words (lower case), in rough frequency order.
BASES = """
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball
abc123 football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang
1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer
trustno1 jordan jennifer zxcvbnm asdfgh hunter buster soccer harley batman andrew tigger
sunshine iloveyou 2000 charlie robert thomas hockey ranger daniel starwars klaster 112233
george computer michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom 777777
pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley nicole
chelsea biteme matthew access yankees 987654321 dallas austin thunder taylor matrix
minecraft william corvette hello martin heather secret merlin diamond 1234qwer gfhjkm
hammer silver 222222 88888888 anthony justin test bailey q1w2e3r4t5 patrick internet
scooter orange 11111 golfer cookie richard samantha bigdog guitar jackson whatever mickey
chicken sparky snoopy maverick phoenix camaro peanut morgan welcome falcon cowboy ferrari
samsung andrea smokey steelers joseph mercedes dakota arsenal eagles melissa boomer booboo
spider nascar monster tigers yellow xxxxxx 123123123 gateway marina diablo bulldog qwer1234
compaq purple hardcore banana junior hannah 123654 porsche lakers iceman money cowboys 987654
london tennis 999999 ncc1701 coffee scooby 0000 miller boston q1w2e3r4 brandon yamaha chester
mother forever johnny edward 333333 oliver redsox player nikita knight fender barney midnight
please brandy chicago badboy slayer rangers charles angel flower rabbit wizard bigdick jasper
enter rachel chris steven winner adidas victoria natasha 1q2w3e4r jasmine winter prince
panties marine ghbdtn fishing cocacola casper james 232323 raiders 888888 marlboro gandalf
asdfasdf crystal 87654321 12344321 golden 8675309 panther lauren angela bitch spanky thx1138
angels madison winston shannon mike toyota blowjob jordan23 canada sophie apples dick tiger
razz 123abc pokemon qazxsw 55555 qwaszx muffin johnson murphy cooper jonathan liverpoo david
danielle 159357 jackie 1990 123456a 789456 turtle horny abcd1234 scorpion qazwsxedc 101010
butter carlos password1 dennis slipknot qwerty123 booger asdf 1991 black startrek 12341234
cameron newyork rainbow nathan john 1992 rocket viking redskins butthead asdfghjkl 1212
sierra peaches gemini doctor wilson sandra helpme qwertyui victor florida dolphin pookie
captain tucker blue liverpool theman bandit dolphins maddog packers jaguar lovers nicholas
united tiffany maxwell zzzzzz nirvana jeremy suckit stupid porn monica elephant giants jackass
hotdog rosebud success debbie mountain 444444 xxxxxxxx warrior 1q2w3e4r5t q1w2e3 123456q
albert metallic lucky azerty 7777 shithead alex bond007 alexis 1111111 samson 5150 willie
scorpio bonnie gators benjamin voodoo driver dexter 2112 jason calvin freddy 212121 creative
12345a sydney rush2112 1989 asdfghjk red123 bubba 4815162342 passw0rd trouble gunner happy
gordon legend jessie stella qwert eminem arthur apple nissan bullshit bear america 1qazxsw2
nothing parker 4444 rebecca qweqwe garfield 01012011 beavis 69696969 jack asdasd december
2222 102030 252525 11223344 magic apollo skippy 315475 girls kitten golf copper braves
shelby godzilla beaver fred tomcat august buddy airborne 1993 1988 lifehack qqqqqq brooklyn
animal platinum phantom online xavier darkness blink182 power fish green 789456123 voyager
police travis 12qwaszx heaven snowball lover abcdef 00000 pakistan 007007 walter playboy
blazer cricket sniper hooters donkey willow loveme saturn therock redwings bigboy pumpkin
trinity williams tits nintendo digital destiny topgun runner marvin guinness chance bubbles
testing fire november minnie ou812 charlie1 iloveu changeme admin administrator root toor
default guest user login welcome1 letmein1 qwerty1 password123 passw0rd1 p@ssw0rd p@ssword
pa55word pa55w0rd monkey1 dragon1 master1 shadow1 sunshine1 princess1 iloveyou1 football1
baseball1 superman1 batman1 trustno1 azerty123 aa123456 a123456 qwe123 zaq12wsx 1qaz2wsx3edc
qwertyuiop123 zxcvbnm123 asdfghjkl123 abcdefg abcdefgh abcdefghi abcdefghij abcdefghijkl
qwerty12345 password12345 iloveyou123 123456789a 12345678910 1234554321 0987654321 147258369
159753456 963852741 741852963 1q2w3e 1q2w3e4r5t6y 1qaz2wsx3edc4rfv zaq1xsw2cde3 qazwsxedcrfv
!qaz2wsx !qaz@wsx 1qaz!qaz q1w2e3r4t5y6 asdfjkl; asdfghjkl; qwertyuiop[] zxcvbnm,./ !@#$%^&*
!@#$%^&*() 1234!@#$ qwer!@#$ passwordpassword password1234 letmeinnow welcometo welcomehome
correcthorsebatterystaple iloveyouforever mypassword mypassword1 secretpassword supersecret
topsecret notmypassword nopassword newpassword oldpassword temppassword temp1234 test1234
testtest qwertyqwerty 123qweasd 123qweasdzxc qweasdzxc qweasd zxcasdqwe 1234qwerasdf
""".split()  # noqa: SIM905 - a word list reads best as text

#: Words of this workstation's own context, tried early against a reading station.
CONTEXT = """
radiology radiologist radiograph hospital clinic clinical doctor nurse physician medical
medicine health healthcare patient xray x-ray chestxray chest thorax lungs pneumonia
cardiology imaging pacs ris dicom orthanc cxrpilot cxr pilot workstation reading reader
evaluator coordinator study research janus deepseek report reports radiographer
technician surgeon emergency icu mri ctscan ultrasound
spring summer autumn fall winter january february march april may june july august
september october november december monday friday
""".split()  # noqa: SIM905 - a word list reads best as text

#: Endings people add to reach a length or satisfy a rule.
SHORT_SUFFIXES = (
    [""] + [str(d) for d in range(10)] + ["00", "01", "11", "12", "13", "21", "22", "23", "69",
    "77", "88", "99", "007", "100", "101", "111", "123", "321", "420", "666", "777", "987",
    "1234", "4321", "12345", "123456", "1234567", "12345678", "123456789", "!", "!!", "!!!",
    "?", ".", "@", "#", "$", "*", "1!", "12!", "123!", "1234!", "!1", "!123", "@123", "#1",
    "#123", "$1", "*1", "_1", "_123", "-1"]
)
YEARS = (
    [str(y) for y in range(1950, 2031)]
    + [f"{y}!" for y in range(1990, 2031)]
    + [f"@{y}" for y in range(2015, 2031)]
    + [f"#{y}" for y in range(2015, 2031)]
    + [str(y)[2:] for y in range(1970, 2031)]
)
FEW = ["", "1", "12", "123", "1234", "!", "1!", "123!"]
PREFIXES = ["my", "the", "i", "ilove", "iloveyou", "1", "123", "!"]
#: Entries shorter than this are left out (the policy refuses passwords under 12).
MIN_KEPT = 10


def leet(word: str) -> set[str]:
    """A few of the substitutions people make (a->@, o->0, e->3, i->1, s->$)."""
    table = {"a": "@", "o": "0", "e": "3", "i": "1", "s": "$"}
    out = {word.translate(str.maketrans(table))}
    for k, v in table.items():
        out.add(word.replace(k, v))
    out.add(word[:1].upper() + word[1:])
    return out - {word}


def generate() -> list[str]:
    words: set[str] = set()
    bases = list(dict.fromkeys(b.replace("-", "") for b in BASES + CONTEXT))
    top = set(bases[:250]) | {b.replace("-", "") for b in CONTEXT}
    for base in bases:
        words.update(base + suf for suf in SHORT_SUFFIXES)
        if base in top:
            words.update(base + y for y in YEARS)
        for form in leet(base):
            words.update(form + suf for suf in FEW)
        for form in (base * 2, base * 3, base + base[::-1], base[::-1]):
            words.update(form + suf for suf in FEW)
        for pre in PREFIXES:
            words.update(pre + base + suf for suf in FEW)
    pairs = bases[:120]
    for a, b in itertools.product(pairs, repeat=2):  # two of the most common words
        if len(a) + len(b) >= MIN_KEPT and a.isalpha() and b.isalpha():
            words.add(a + b)
    # digit and letter runs, repeated characters and keyboard walks of 8-24 characters
    walks = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv5tgb", "qazwsxedcrfvtgb",
             "1q2w3e4r5t6y7u8i9o0p", "q1w2e3r4t5y6u7i8o9p0", "zaq12wsxcde34rfv",
             "abcdefghijklmnopqrstuvwxyz", "0123456789", "9876543210", "1234567890")
    for n in range(8, 25):
        for c in "0123456789abcdefghijklmnopqrstuvwxyz!@#$%*.":
            words.add(c * n)
        for walk in walks:
            for start in range(len(walk)):
                words.add(((walk * 4)[start:])[:n])
    for a, b in itertools.product(["12", "123", "1234", "abc", "qwe", "asd", "zxc", "aa", "ab"],
                                  repeat=2):
        for k in (2, 3, 4):
            words.add((a + b) * k)
    return sorted({w.lower() for w in words if len(w) >= MIN_KEPT and not any(c.isspace() for c in w)})


def main() -> None:
    words = generate()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Common passwords refused by the cxrpilot workstation (lower case, no white space).\n"
        "# Generated by scripts/make_common_passwords.py; do not edit by hand.\n"
    )
    OUT.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} passwords -> {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
