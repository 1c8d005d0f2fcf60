"""Which words of a whole name typed into ``nombres`` are given names and which are surnames.

Registries type a whole name into ``nombres`` in three orders: ``ROSA ELENA QUISPE MAMANI``,
``QUISPE MAMANI ROSA ELENA`` and ``QUISPE MAMANI, ROSA ELENA`` (the comma settles it), often with
one surname only. Position alone cannot tell ``ROSA ELENA QUISPE`` (two given names, one
surname) from ``ROSA QUISPE MAMANI``, nor ``PINEDO GRACIELA`` from ``GRACIELA PINEDO``.

:class:`NameRoles` counts how often each word was written as a given name and as a surname:
a built-in prior of common Peruvian and Venezuelan names, plus what the institution's own
export says in every row whose surnames are in their columns (learned while the export is
read, on the institution's machine; nothing of it leaves). :meth:`NameRoles.split` scores each
reading of the words by those counts and keeps the likeliest; with nothing known about the
words it keeps the Peruvian order (given names, paternal, maternal).

>>> roles = NameRoles()
>>> roles.split(["QUISPE", "MAMANI", "ROSA"])
('ROSA', 'QUISPE', 'MAMANI')
>>> roles.split(["ROSA", "ELENA", "QUISPE"])
('ROSA ELENA', 'QUISPE', '')
>>> roles.split(["KORINA", "ZZYZX", "WAKAPU"]), roles.split(["MARIA", "ISABEL"])
(('KORINA', 'ZZYZX', 'WAKAPU'), ('MARIA ISABEL', '', ''))
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

__all__ = ["BUILTIN_GIVEN_NAMES", "BUILTIN_SURNAMES", "NameRoles"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Given names common among victims registered in Peru (Peruvian and Venezuelan women above
# all, and men), folded as the standardizer writes them.
BUILTIN_GIVEN_NAMES = _words(
    """MARIA ROSA ANA LUZ CARMEN JUANA ROSARIO ISABEL ELENA TERESA PATRICIA SOFIA VALERIA
    CAMILA LUCIA KARINA MILAGROS YESENIA JESSICA ELIZABETH FIORELLA NATALY NATALI DIANA ANDREA
    GABRIELA DANIELA ALEJANDRA FERNANDA PAOLA CAROLINA VANESSA ROCIO GLADYS NANCY RUTH SANDRA
    MARTHA MARTA JULIA VERONICA SILVIA FLOR ESTHER NOEMI SONIA KATHERINE KATHERIN LESLY LESLIE
    YOLANDA GUADALUPE MERCEDES PILAR CLAUDIA MARIELA ANGELA CARLA ERIKA ERICA MIRIAM NELLY
    BEATRIZ JULIANA LILIANA LILIAN MARLENI MARLENE MARLENY YOVANA JOVANA GIOVANNA GIOVANA
    YANET JANET JANETH YANETH MARIBEL MARISOL MARITZA MAGALY MAGALI EVELYN EVELIN JACKELINE
    JAQUELINE YESSICA DAYANA DAYANNA ANGIE ALLISON ALISON KIARA QIARA CIELO NICOLE MILENA
    ADRIANA ARIANA ARIADNA BRENDA CINTHIA CYNTHIA DEYSI DEISY DAISY DORIS EDITH EDITA ELSA
    ELVIRA EMILIA ESPERANZA EUGENIA FANNY GRACIELA HILDA IRMA IRIS JENNY JENIFER JENNIFER
    JESSENIA JUDITH KAREN KARLA KATIA KELLY LAURA LEYDI LIDIA LIZ LIZBETH LORENA LOURDES
    LUISA MABEL MARGARITA MARIANA MARICELA MARIELLA MARINA MARLENY MAYRA MELISSA MELANIE
    MILAGRITOS MIRTHA NADIA NATALIA NELLY NOELIA NORMA OLGA PAMELA PERLA RAQUEL REBECA REGINA
    RUBY SARA SARITA SHIRLEY SOLEDAD SUSANA TANIA TATIANA VICTORIA VILMA VIVIANA WENDY XIMENA
    YADIRA YAMILET YAJAIRA YULIANA YULISSA ZOILA ZULEMA ROSMERY ROXANA ANAHI ABIGAIL ALICIA
    AMELIA ANTONIA AURORA BLANCA CANDELARIA CATALINA CECILIA CELIA CONSUELO CRISTINA DELIA
    DOLORES ELENA ELISA ELOISA ENMA EMMA FELICITA FLORA FRANCISCA GLORIA INES IRENE JOSEFINA
    JUANITA LEONOR LETICIA LIDA LUCILA MAGDALENA MANUELA MARCELA MARLEN MATILDE MONICA
    OFELIA PAULA PAULINA RAMONA REYNA SABINA SANTUSA SEGUNDINA TEODORA VALENTINA YENY YENI
    ANDREINA YUSMARY YUSMAR YELITZA YOSELIN JOSELYN YORELIS YULIMAR MARIANGEL ORIANA
    MARIBEL ROSANGELA GENESIS DAYERLIN YOSMARY YARITZA ARELIS NAYELI NAYELY ASHLEY BRITANY
    HEIDY DANNA ISABELLA ISABELA LUANA ALESSANDRA ALEXANDRA ALEXA DANIELA ZAIDA EMILY
    JOSE JUAN LUIS CARLOS JORGE MIGUEL PEDRO JESUS MANUEL VICTOR CESAR ALBERTO ANTONIO
    DANIEL FERNANDO RAUL RICARDO EDWIN WILLIAM JULIO FRANCISCO ALEX DAVID SANTIAGO DIEGO
    ANGEL MARCO ENRIQUE HUGO OSCAR PABLO ANDRES SEBASTIAN MATEO JHON JOHN JHONATAN JONATHAN
    KEVIN BRAYAN BRYAN CRISTIAN CHRISTIAN EDGAR EDUARDO ELMER FREDDY FRANK GERSON GUSTAVO
    HECTOR HENRY IVAN JAIME JAVIER JEAN JHONNY JOEL JUNIOR LEONARDO LUCAS MARIO MARTIN
    NELSON OMAR ORLANDO RAFAEL RENZO ROBERTO RODRIGO RONALD ROGER RUBEN SAMUEL SERGIO TEODORO
    WALTER WILSON YOEL GREGORIO ALFREDO ARMANDO FELIX GABRIEL GILBERTO HERNAN ISMAEL JOAQUIN
    LORENZO MAURICIO NICOLAS PERCY SEGUNDO ABEL ADRIAN AGUSTIN ALAN ALDO ALONSO ANDERSON
    BENJAMIN CLEVER DARWIN DENIS DENNIS EDER EFRAIN ELIAS EMERSON ERICK ERIK FABIAN FIDEL
    GONZALO HUMBERTO IGNACIO ISAAC JEFFERSON JOSUE LUCIO MARCOS MAXIMO MOISES NESTOR PAUL
    RAMIRO RAMON RICHARD SAUL SIMON TOMAS VALENTIN WILMER YEFERSON YOSEF"""
)
# Surnames common in Peru's civil register and among the Venezuelan, Colombian, Ecuadorian and
# Bolivian people registered here.
BUILTIN_SURNAMES = _words(
    """QUISPE FLORES SANCHEZ RODRIGUEZ GARCIA ROJAS HUAMAN MAMANI CHAVEZ RAMOS RAMIREZ TORRES
    MENDOZA LOPEZ GONZALES GONZALEZ CASTILLO VASQUEZ VARGAS DIAZ ESPINOZA PEREZ CONDORI FERNANDEZ
    RUIZ GUTIERREZ CRUZ HUAMANI MARTINEZ APAZA TICONA CHOQUE MORALES JIMENEZ SALAZAR CASTRO
    CORDOVA ALVAREZ VEGA RIOS ROMERO REYES MEDINA HERRERA AGUILAR CARDENAS MEZA LEON PAREDES
    SILVA HUANCA CCAHUANA CUSI PALOMINO NUÑEZ MUÑOZ VILLANUEVA CAMPOS NAVARRO SOTO TAPIA
    AYALA CABRERA GUERRERO VILCA MORENO POMA ZAPATA PAUCAR ACOSTA MIRANDA VALDIVIA ORTIZ
    SALAS BRAVO DELGADO CHAMBI HUARCAYA CCORI CONDO QUISPIAN YUPANQUI TUPAC INGA LLANOS
    CHUQUIMIA CALLE SOLIS CARRASCO RIVERA ROSALES LOAYZA ARIAS BENITES BENITEZ CHUMPITAZ
    CAHUANA ESPINOZA FIGUEROA GOMEZ HUERTA LAZO LUNA MALDONADO MARIN MONTES MORI NINA OCHOA
    PINEDO PINTO PONCE QUIROZ SAAVEDRA SALINAS SANDOVAL SOSA SUAREZ TELLO TINOCO TRUJILLO
    VALENCIA VALVERDE VELASQUEZ VERA VILLEGAS ZEVALLOS ZUÑIGA ARANDA ARROYO BARRETO CACERES
    CAMPOS CARRILLO CHAVARRIA COAQUIRA CONDEZO CUEVA ESCOBAR FARFAN GAMARRA GUEVARA HIDALGO
    HUAYTA LAURA LEVANO LOZANO MALLMA MARQUEZ MEJIA MORAN MOSCOSO NUNEZ OLIVERA OSORIO
    PACHECO PALACIOS PAZ PIZARRO PORRAS PRADO QUIÑONES RENGIFO REATEGUI RIVAS ROCA SAENZ
    SOTELO TAIPE TITO URBANO VALENZUELA VIDAL YAURI ZAMORA ALARCON ALIAGA ALVARADO
    ANCCO ARIAS ASTO ATAUPILLCO BALTAZAR BARRIENTOS BERROCAL CAJAHUANCA CALDERON CANCHARI
    CARHUAMACA CHIRINOS CHOQUEHUANCA CONDORCAHUA CRISPIN CURI ESCALANTE ESPINOZA GALLEGOS
    GUZMAN HUACHACA HUARANGA HUAYLLA LIMACHI LUQUE MACEDO MACHACA MAYTA MOLINA NEYRA
    NORIEGA OCAÑA OBANDO PANDURO PARIONA PEÑA POMA PUMA QUISPITUPA RAMOS RIVEROS SAMANIEGO
    SOTO TARAZONA TUCTO USCAMAYTA VALLEJOS VILCHEZ YUPANQUI CHOQUEHUANCA DE LA CRUZ
    HERNANDEZ MORA BRICEÑO BLANCO GIL PADRON MARCANO ROJAS URDANETA COLMENARES GUERRA
    BOLIVAR CEDEÑO PARRA ACEVEDO LINARES CONTRERAS QUINTERO SUAREZ FIGUERA MONTILLA
    CARVAJAL ZAMBRANO TOVAR ESCALONA RONDON MARQUINA GRATEROL VILLARROEL OCHOA PIÑA
    ALZATE ARANGO CARDONA GIRALDO OSPINA MUÑETON RESTREPO CEVALLOS ANDRADE VERA
    CHOQUE QUISBERT CALLISAYA ALANOCA CONDORI LAYME"""
)

# Given names written with a particle: MARIA DEL CARMEN, MARIA DE LOS ANGELES, JOSE DE JESUS.
_GIVEN_AFTER_PARTICLE = _words("CARMEN ANGELES JESUS PILAR ROSARIO LOURDES MERCEDES FATIMA DOLORES")

_PRIOR = 3.0  # a built-in word counts as this many rows of the export
_SMOOTHING = 0.5
# Log-odds of each reading before the words are looked at: the Peruvian order (given names,
# paternal, maternal) first, one surname (a missing maternal surname) next; surnames first
# less often; given names only (no surname at all) least.
_ORDER_PRIOR = {("given_first", 2): 0.0, ("given_first", 1): -0.7,
                ("surnames_first", 2): -0.4, ("surnames_first", 1): -1.1,
                ("given_first", 0): -1.5}


class NameRoles:
    """Counts of each word seen as a given name and as a surname (built-in prior + learned)."""

    def __init__(self) -> None:
        self._given: Counter[str] = Counter()
        self._surname: Counter[str] = Counter()

    def learn(self, *, given_names: str, surnames: Sequence[str]) -> None:
        """Count names written in their proper columns (cleaned): the given names' words,
        and the surnames' words but particles (``DE``, ``LA``, ``DEL``...)."""
        self._given.update(given_names.split())
        self._surname.update(
            word for word in " ".join(surnames).split() if len(word) > 3)

    def given_log_odds(self, unit: str) -> float:
        """log(given / surname) for one word (or particle group such as ``DE LA CRUZ``)."""
        if " " in unit:  # a particle group is a surname, but MARIA DEL CARMEN's
            return 1.0 if unit.rsplit(" ", 1)[-1] in _GIVEN_AFTER_PARTICLE else -3.0
        given = self._given[unit] + (_PRIOR if unit in BUILTIN_GIVEN_NAMES else 0.0)
        surname = self._surname[unit] + (_PRIOR if unit in BUILTIN_SURNAMES else 0.0)
        return math.log((given + _SMOOTHING) / (surname + _SMOOTHING))

    def split(self, units: Sequence[str]) -> tuple[str, str, str]:
        """The likeliest (given, paternal, maternal) for the units of a whole name."""
        n = len(units)
        odds = [self.given_log_odds(unit) for unit in units]
        best: tuple[float, tuple[str, str, str]] | None = None
        for order, surname_count in _ORDER_PRIOR:
            if n - surname_count < 1:
                continue
            if order == "given_first":
                given, surnames = units[: n - surname_count], units[n - surname_count:]
                given_odds, surname_odds = odds[: n - surname_count], odds[n - surname_count:]
            else:
                given, surnames = units[surname_count:], units[:surname_count]
                given_odds, surname_odds = odds[surname_count:], odds[:surname_count]
            score = (_ORDER_PRIOR[(order, surname_count)]
                     + sum(given_odds) - sum(surname_odds))
            reading = (" ".join(given), surnames[0] if surnames else "",
                       surnames[1] if surname_count == 2 else "")
            if best is None or score > best[0]:
                best = (score, reading)
        assert best is not None
        return best[1]
